package io.zonekeeper.network.shell;

import java.util.List;

import io.zonekeeper.network.Lease;
import io.zonekeeper.network.NetworkRecord;
import io.zonekeeper.network.Uplink;
import io.zonekeeper.network.ipv4.Cidr;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;

/**
 * The {@code --json} form of networks, for scripts: what {@code net:list} and {@code net:info} show, with the
 * gateways worked out. A missing value (no IPv6, no named uplink) is JSON null, never left out.
 */
final class NetworkJson {
    private NetworkJson() {
    }

    /** {@code net:list --json}: an array of networks. */
    static String list(List<NetworkRecord> networks) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        networks.forEach(n -> a.add(network(n)));
        return a.build().toString();
    }

    /** {@code net:info --json}: one network, with the zones whose specs name it. */
    static String info(NetworkRecord n, List<String> zones) {
        return network(n).add("zones", strings(zones)).build().toString();
    }

    private static JsonObjectBuilder network(NetworkRecord n) {
        JsonObjectBuilder o = Json.createObjectBuilder().add("name", n.name()).add("id", n.id().toString())
                .add("subnet", n.subnet().toString()).add("gateway", Cidr.format(n.subnet().gateway()));
        nullable(o, "ipv6", n.ipv6() == null ? null : n.ipv6().toString());
        nullable(o, "gateway6", n.ipv6() == null ? null : n.ipv6().gateway());
        o.add("bridge", n.bridge()).add("nat", n.nat());
        nullable(o, "uplink", n.uplink());
        JsonArrayBuilder uplinks = Json.createArrayBuilder();
        for (Uplink u : n.uplinks()) {
            JsonObjectBuilder uplink = Json.createObjectBuilder().add("name", u.name());
            nullable(uplink, "forwardingBefore", u.forwardingBefore());
            uplinks.add(uplink);
        }
        JsonArrayBuilder leases = Json.createArrayBuilder();
        for (Lease l : n.leases()) {
            JsonObjectBuilder lease = Json.createObjectBuilder().add("zone", l.zone())
                    .add("zoneId", l.zoneId().toString()).add("ip", l.ip());
            nullable(lease, "ip6", l.ip6());
            leases.add(lease.add("mac", l.mac()).add("tap", l.tap()));
        }
        return o.add("uplinks", uplinks).add("created", n.created().toString()).add("leases", leases);
    }

    private static JsonArrayBuilder strings(List<String> values) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        values.forEach(a::add);
        return a;
    }

    private static void nullable(JsonObjectBuilder o, String key, String value) {
        if (value == null) {
            o.addNull(key);
        } else {
            o.add(key, value);
        }
    }
}

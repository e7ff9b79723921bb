package io.zonekeeper.network;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import io.zonekeeper.network.ipv4.Cidr;
import io.zonekeeper.network.ipv6.Ula;

/**
 * A network as stored in {@code <state>/networks/NAME.json}: what it is and who holds an address on it.
 *
 * @param id   made at creation; an automatic IPv6 prefix is derived from it
 * @param ipv6    the network's unique local /64, or null for an IPv4-only network
 * @param uplink  the interface {@code --uplink} named, or null: then a NAT network's uplinks are the interfaces of
 *                the IPv4 default route, found again each time the appliance starts
 * @param uplinks the interfaces a NAT network's IPv4 forwarding was switched on for, with the value each had before;
 *                empty without NAT
 */
public record NetworkRecord(String name, UUID id, Cidr subnet, Ula ipv6, boolean nat, String uplink,
        List<Uplink> uplinks, String bridge, Instant created, List<Lease> leases) {

    public NetworkRecord {
        uplinks = List.copyOf(uplinks);
        leases = List.copyOf(leases);
    }

    /** The names of the uplinks this network's NAT uses now. */
    public List<String> uplinkNames() {
        return uplinks.stream().map(Uplink::name).toList();
    }

    NetworkRecord withUplinks(List<Uplink> now) {
        return new NetworkRecord(name, id, subnet, ipv6, nat, uplink, now, bridge, created, leases);
    }

    /** The id of a network stored before networks had ids: derived from what identified it then. */
    static UUID legacyId(String name, Instant created) {
        return UUID.nameUUIDFromBytes(("network/" + name + "/" + created).getBytes(StandardCharsets.UTF_8));
    }

    public String gatewayCidr() {
        return Cidr.format(subnet.gateway()) + "/" + subnet.prefix();
    }

    /** The bridge's IPv6 address with its prefix length, or null without IPv6. */
    public String gateway6Cidr() {
        return ipv6 == null ? null : ipv6.gatewayCidr();
    }

    NetworkRecord withLease(Lease lease) {
        List<Lease> l = new ArrayList<>(leases);
        l.add(lease);
        return new NetworkRecord(name, id, subnet, ipv6, nat, uplink, uplinks, bridge, created, l);
    }

    NetworkRecord withoutZone(UUID zoneId) {
        List<Lease> l = new ArrayList<>(leases);
        l.removeIf(x -> x.zoneId().equals(zoneId));
        return new NetworkRecord(name, id, subnet, ipv6, nat, uplink, uplinks, bridge, created, l);
    }

    NetworkRecord withoutLease(Lease lease) {
        List<Lease> l = new ArrayList<>(leases);
        l.remove(lease);
        return new NetworkRecord(name, id, subnet, ipv6, nat, uplink, uplinks, bridge, created, l);
    }
}

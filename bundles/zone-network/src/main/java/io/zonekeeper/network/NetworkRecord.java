package io.zonekeeper.network;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import io.zonekeeper.network.ipv4.Cidr;

/** A network as stored in {@code <state>/networks/NAME.json}: what it is and who holds an address on it. */
public record NetworkRecord(String name, Cidr subnet, boolean nat, String bridge, Instant created,
        List<Lease> leases) {

    public NetworkRecord {
        leases = List.copyOf(leases);
    }

    public String gatewayCidr() {
        return Cidr.format(subnet.gateway()) + "/" + subnet.prefix();
    }

    NetworkRecord withLease(Lease lease) {
        List<Lease> l = new ArrayList<>(leases);
        l.add(lease);
        return new NetworkRecord(name, subnet, nat, bridge, created, l);
    }

    NetworkRecord withoutZone(UUID zoneId) {
        List<Lease> l = new ArrayList<>(leases);
        l.removeIf(x -> x.zoneId().equals(zoneId));
        return new NetworkRecord(name, subnet, nat, bridge, created, l);
    }
}

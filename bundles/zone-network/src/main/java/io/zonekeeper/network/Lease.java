package io.zonekeeper.network;

import java.util.UUID;

/**
 * A zone's place on a network while it runs: its IPv4 address, its IPv6 address (null on a network without an IPv6
 * prefix), MAC and tap device.
 */
public record Lease(String zone, UUID zoneId, String ip, String ip6, String mac, String tap) {
    /** A lease on a network without IPv6. */
    public Lease(String zone, UUID zoneId, String ip, String mac, String tap) {
        this(zone, zoneId, ip, null, mac, tap);
    }
}

package io.zonekeeper.network;

import java.util.UUID;

/** A zone's place on a network while it runs: its address, MAC and tap device. */
public record Lease(String zone, UUID zoneId, String ip, String mac, String tap) {
}

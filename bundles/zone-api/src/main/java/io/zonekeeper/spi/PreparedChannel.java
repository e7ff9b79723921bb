package io.zonekeeper.spi;

/**
 * One of a zone's data channels as zone-core's channel broker arranged it, for a driver to render. The guest sees a
 * port called {@link #name()}. The other end is the Unix socket {@link #socket()}: for a host channel
 * ({@link #peer()} null) a socket that host programs connect to; for a zone-to-zone channel the rendezvous of the
 * two zones, where one side listens and the other connects (and reconnects, so that either may start first or
 * restart).
 *
 * @param name    the channel's name, as both specs name it
 * @param peer    the zone at the other end, or null for a host channel
 * @param socket  the Unix socket's path
 * @param listens true when this zone's side holds the listening socket; false when it connects to it
 */
public record PreparedChannel(String name, String peer, String socket, boolean listens) {
    public boolean toHost() {
        return peer == null;
    }
}

package io.zonekeeper.api;

import java.util.Objects;

/**
 * A named data channel of a zone. Inside the guest it is a port called {@link #name()}. Its other end is a host
 * socket when {@link #peer()} is null, or the channel of the same name in the zone {@link #peer()} names; such a
 * zone-to-zone channel exists only when both specs name each other.
 */
public final class ChannelSpec {
    private final String name;
    private final String peer;

    public ChannelSpec(String name, String peer) {
        this.name = name;
        this.peer = peer;
    }

    public static ChannelSpec toHost(String name) {
        return new ChannelSpec(name, null);
    }

    public String name() {
        return name;
    }

    /** The zone at the other end, or null for a host socket. */
    public String peer() {
        return peer;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChannelSpec c && Objects.equals(name, c.name) && Objects.equals(peer, c.peer);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, peer);
    }

    @Override
    public String toString() {
        return peer == null ? name : name + "->" + peer;
    }
}

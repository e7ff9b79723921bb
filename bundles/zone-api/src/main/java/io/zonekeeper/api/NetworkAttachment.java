package io.zonekeeper.api;

import java.util.Objects;

/** A zone's place on a named network; {@link #ip()} is a fixed IPv4 address, or null to take one from the pool. */
public final class NetworkAttachment {
    private final String network;
    private final String ip;

    public NetworkAttachment(String network, String ip) {
        this.network = network;
        this.ip = ip;
    }

    public String network() {
        return network;
    }

    public String ip() {
        return ip;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetworkAttachment n && Objects.equals(network, n.network) && Objects.equals(ip, n.ip);
    }

    @Override
    public int hashCode() {
        return Objects.hash(network, ip);
    }

    @Override
    public String toString() {
        return ip == null ? network : network + "(" + ip + ")";
    }
}

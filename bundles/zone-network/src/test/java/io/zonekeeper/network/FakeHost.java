package io.zonekeeper.network;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.zonekeeper.network.host.HostNetwork;

/** The host's links as a set; fails the n-th tap when told to. */
final class FakeHost implements HostNetwork {
    final Set<String> links = new LinkedHashSet<>(Set.of("lo", "eth0"));
    final List<String> nat = new ArrayList<>();
    /** Bridge to its IPv6 gateway address, for the bridges that have one. */
    final Map<String, String> gateway6 = new HashMap<>();
    int failTapAfter = -1;

    @Override
    public void ensureBridge(String bridge, String gatewayCidr, String gateway6Cidr, boolean nat) {
        links.add(bridge);
        if (gateway6Cidr != null) {
            gateway6.put(bridge, gateway6Cidr);
        }
    }

    @Override
    public void deleteBridge(String bridge) {
        links.remove(bridge);
        gateway6.remove(bridge);
    }

    @Override
    public void enableNat(String network, String bridge, String subnet) {
        nat.add(network);
    }

    @Override
    public void disableNat(String network) {
        nat.remove(network);
    }

    @Override
    public void createTap(String tap, String bridge) throws IOException {
        if (failTapAfter == 0) {
            throw new IOException("ip tuntap add dev " + tap + " failed: Operation not permitted");
        }
        failTapAfter--;
        links.add(tap);
    }

    @Override
    public void deleteTap(String tap) {
        links.remove(tap);
    }

    @Override
    public Set<String> links() {
        return Set.copyOf(links);
    }
}

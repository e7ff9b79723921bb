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
    /** Network to the uplinks its NAT rules name. */
    final Map<String, List<String>> natUplinks = new HashMap<>();
    final List<String> defaultRoute = new ArrayList<>(List.of("eth0"));
    /** Interface to its IPv4 forwarding switch; an interface not here has "0". */
    final Map<String, String> forwarding = new HashMap<>();
    boolean failForwarding;
    /** Bridge to its IPv6 gateway address, for the bridges that have one. */
    final Map<String, String> gateway6 = new HashMap<>();
    int failTapAfter = -1;
    /** Tap to "bridge mac ipv4 ipv6" of its pin. */
    final Map<String, String> pins = new HashMap<>();
    boolean failPin;

    @Override
    public void ensureBridge(String bridge, String gatewayCidr, String gateway6Cidr, boolean nat) {
        links.add(bridge);
        forwarding.put(bridge, nat ? "1" : "0");
        if (gateway6Cidr != null) {
            gateway6.put(bridge, gateway6Cidr);
        }
    }

    @Override
    public void deleteBridge(String bridge) {
        links.remove(bridge);
        forwarding.remove(bridge);
        gateway6.remove(bridge);
    }

    @Override
    public void enableNat(String network, String bridge, String subnet, List<String> uplinks) {
        nat.add(network);
        natUplinks.put(network, List.copyOf(uplinks));
    }

    @Override
    public void disableNat(String network) {
        nat.remove(network);
        natUplinks.remove(network);
    }

    @Override
    public List<String> defaultRouteInterfaces() {
        return List.copyOf(defaultRoute);
    }

    @Override
    public String forwarding(String iface) {
        return links.contains(iface) ? forwarding.getOrDefault(iface, "0") : null;
    }

    @Override
    public void setForwarding(String iface, String value) throws IOException {
        if (failForwarding) {
            throw new IOException("/proc/sys/net/ipv4/conf/" + iface + "/forwarding: Permission denied");
        }
        if (!links.contains(iface)) {
            throw new IOException("the host has no interface " + iface);
        }
        forwarding.put(iface, value);
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
    public void pinTap(String bridge, String tap, String mac, String ipv4, String ipv6) throws IOException {
        if (failPin) {
            throw new IOException("nft: Operation not permitted");
        }
        pins.put(tap, bridge + " " + mac + " " + ipv4 + " " + ipv6);
    }

    @Override
    public void unpinTap(String bridge, String tap) {
        pins.remove(tap);
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

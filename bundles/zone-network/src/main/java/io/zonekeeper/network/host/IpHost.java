package io.zonekeeper.network.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import io.zonekeeper.hostio.ProcessRunner;
import io.zonekeeper.network.ipv6.Ula;

/**
 * {@link HostNetwork} through the {@code ip} and {@code nft} commands, in the network namespace the appliance
 * runs in. Taps are made by the appliance ({@code ip tuntap add ... mode tap}), never by a QEMU helper script.
 */
public final class IpHost implements HostNetwork {
    /** The priority of the IPv6 rules that keep a bridge's packets from being routed: after local, before main. */
    static final int RULE6_PRIORITY = 20000;
    /** How long one ip or nft command may take before it is killed. */
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);
    private final String ip;
    private final String nft;
    private final Path procNet;
    private final Path procNet6;
    private final ProcessRunner runner;

    public IpHost(String ip, String nft) {
        this(ip, nft, Path.of("/proc/sys/net/ipv4/conf"), Path.of("/proc/sys/net/ipv6/conf"), COMMAND_TIMEOUT);
    }

    IpHost(String ip, String nft, Path procNet, Path procNet6, Duration commandTimeout) {
        this.ip = ip;
        this.nft = nft;
        this.procNet = procNet;
        this.procNet6 = procNet6;
        this.runner = new ProcessRunner(commandTimeout);
    }

    @Override
    public void ensureBridge(String bridge, String gatewayCidr, String gateway6Cidr, boolean nat)
            throws IOException {
        if (!links().contains(bridge)) {
            run(ip, "link", "add", "name", bridge, "type", "bridge");
        }
        run(ip, "addr", "replace", gatewayCidr, "dev", bridge);
        Path noIpv6 = procNet6.resolve(bridge).resolve("disable_ipv6");
        if (gateway6Cidr == null) {
            // No IPv6 on this network: the host takes no IPv6 packet from its zones, so it routes none of them.
            if (Files.exists(noIpv6)) {
                Files.writeString(noIpv6, "1\n", StandardCharsets.US_ASCII);
            }
        } else {
            if (!Files.exists(noIpv6)) {
                throw new IOException("this host has no IPv6 (" + noIpv6 + " is missing), so bridge " + bridge
                        + " cannot have " + gateway6Cidr);
            }
            Files.writeString(noIpv6, "0\n", StandardCharsets.US_ASCII);
            // nodad: the address is ours by construction, and usable at once rather than after duplicate detection.
            run(ip, "-6", "addr", "replace", gateway6Cidr, "dev", bridge, "nodad");
            // IPv6 forwarding is one switch for the whole namespace, not one per interface as for IPv4: a rule
            // refuses to route whatever comes in on this bridge, so zones on other networks stay out of reach
            // even where the host forwards IPv6. Packets for the host's own addresses match the local table first.
            if (rules6(bridge).isEmpty()) {
                run(ip, "-6", "rule", "add", "priority", String.valueOf(RULE6_PRIORITY), "iif", bridge, "prohibit");
            }
        }
        runWithInput(hostGuardScript(bridge), nft, "-f", "-");
        run(ip, "link", "set", bridge, "up");
        // Forwarding is decided by the interface a packet comes in on: off here, a zone on this network cannot be
        // routed to another network's zones, even on a host that forwards for other reasons.
        Path fwd = procNet.resolve(bridge).resolve("forwarding");
        if (Files.exists(fwd)) {
            Files.writeString(fwd, nat ? "1\n" : "0\n", StandardCharsets.US_ASCII);
        }
    }

    /** The IPv6 rules for packets that come in on {@code bridge}; none where the host has no IPv6. */
    private List<String> rules6(String bridge) {
        try {
            return run(ip, "-6", "rule", "show", "iif", bridge).lines().filter(l -> !l.isBlank()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * Zones reach the host through their bridge only with what the network offers: replies to connections the host
     * opened, and IPv6 neighbour discovery for the gateway address (ARP is not IP, so it is not filtered here). A
     * zone reaches no service of the host, not even on the gateway address; routed (NAT) traffic takes the forward
     * hook, not this one. The chain is flushed first, so that running this again leaves one copy.
     */
    static String hostGuardScript(String bridge) {
        String t = "inet " + bridgeTable(bridge);
        return "add table " + t + "\n"
                + "add chain " + t + " input { type filter hook input priority filter; policy accept; }\n"
                + "flush chain " + t + " input\n"
                + "add rule " + t + " input iifname != \"" + bridge + "\" accept\n"
                + "add rule " + t + " input ct state { established, related } accept\n"
                + "add rule " + t + " input icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n"
                + "add rule " + t + " input drop\n";
    }

    /** The nft table of one bridge, in the bridge family (its taps' pins) and the inet family (its host guard). */
    static String bridgeTable(String bridge) {
        return bridge.replace('-', '_');
    }

    @Override
    public void pinTap(String bridge, String tap, String mac, String ipv4, String ipv6) throws IOException {
        runWithInput(pinScript(bridge, tap, mac, ipv4, ipv6), nft, "-f", "-");
    }

    /**
     * A chain of the bridge's table that passes a frame from {@code tap} only when it carries the lease's MAC and
     * addresses: ARP whose sender is the lease's MAC and IPv4 address, IPv4 from the lease's address, IPv6 from
     * the lease's address, its link-local address or {@code ::} (duplicate address detection), and no neighbour
     * advertisement for another address, no router advertisement, no redirect. Everything else (another
     * ethertype, a VLAN tag) is dropped. Without an IPv6 lease no IPv6 passes. The chain is flushed first, so a
     * tap left by a crash gets exactly this lease's rules.
     */
    static String pinScript(String bridge, String tap, String mac, String ipv4, String ipv6) {
        String c = "bridge " + bridgeTable(bridge) + " " + tap;
        String r = "add rule " + c + " ";
        String script = "add table bridge " + bridgeTable(bridge) + "\n"
                + "add chain " + c + " { type filter hook prerouting priority filter; policy accept; }\n"
                + "flush chain " + c + "\n"
                + r + "iifname != \"" + tap + "\" accept\n"
                + r + "ether saddr != " + mac + " drop\n"
                + r + "arp saddr ether " + mac + " arp saddr ip " + ipv4 + " accept\n"
                + r + "ip saddr " + ipv4 + " accept\n";
        if (ipv6 != null) {
            String linkLocal = Ula.linkLocal(mac);
            // nft 1.0.6 has no name for the target of a neighbour advertisement: bytes 8 to 24 of the ICMPv6 header.
            script += r + "icmpv6 type { nd-router-advert, nd-redirect } drop\n"
                    + r + "icmpv6 type nd-neighbor-advert @th,64,128 != { " + hex(ipv6) + ", " + hex(linkLocal)
                    + " } drop\n"
                    + r + "ip6 saddr { " + ipv6 + ", " + linkLocal + ", :: } accept\n";
        }
        return script + r + "drop\n";
    }

    private static String hex(String ipv6) {
        long[] a = Ula.parseAddress(ipv6);
        return String.format("0x%016x%016x", a[0], a[1]);
    }

    @Override
    public void unpinTap(String bridge, String tap) throws IOException {
        String c = "bridge " + bridgeTable(bridge) + " " + tap;
        try {
            runWithInput("flush chain " + c + "\ndelete chain " + c + "\n", nft, "-f", "-");
        } catch (IOException e) {
            if (!e.getMessage().contains("No such file")) {
                throw e;
            }
        }
    }

    @Override
    public void deleteBridge(String bridge) throws IOException {
        if (links().contains(bridge)) {
            run(ip, "link", "del", bridge);
        }
        for (String family : List.of("bridge", "inet")) {
            try {
                run(nft, "delete", "table", family, bridgeTable(bridge));
            } catch (IOException e) {
                if (!e.getMessage().contains("No such file")) {
                    throw e;
                }
            }
        }
        for (int i = rules6(bridge).size(); i > 0; i--) {
            run(ip, "-6", "rule", "del", "priority", String.valueOf(RULE6_PRIORITY), "iif", bridge, "prohibit");
        }
    }

    @Override
    public void enableNat(String network, String bridge, String subnet, List<String> uplinks) throws IOException {
        runWithInput(natScript(network, bridge, subnet, uplinks), nft, "-f", "-");
    }

    /**
     * One table per network, so that removing the network removes exactly its rules. The uplinks forward (the
     * replies come in there), so the table also keeps them from opening anything towards the zones: of what comes in
     * on an uplink only the packets of connections that a zone opened reach any zone network's bridge, NAT or not.
     * Several NAT networks on one uplink each have that rule; a drop in any table is final.
     */
    static String natScript(String network, String bridge, String subnet, List<String> uplinks) {
        String t = table(network);
        String script = "add table ip " + t + "\n"
                + "add chain ip " + t + " postrouting { type nat hook postrouting priority srcnat; }\n"
                + "add rule ip " + t + " postrouting ip saddr " + subnet + " oifname != \"" + bridge
                + "\" masquerade\n"
                + "add chain ip " + t + " forward { type filter hook forward priority filter; }\n"
                // NAT forwards this bridge's packets; never towards another zone network's bridge.
                + "add rule ip " + t + " forward iifname \"" + bridge + "\" oifname \"zkb-*\" drop\n";
        if (uplinks.isEmpty()) {
            return script;
        }
        String iif = uplinks.size() == 1 ? "\"" + uplinks.get(0) + "\""
                : uplinks.stream().map(u -> "\"" + u + "\"").collect(Collectors.joining(", ", "{ ", " }"));
        return script + "add rule ip " + t + " forward iifname " + iif
                + " oifname \"zkb-*\" ct state != { established, related } drop\n";
    }

    static String table(String network) {
        return "zk_" + network.replace('-', '_');
    }

    @Override
    public void disableNat(String network) throws IOException {
        try {
            run(nft, "delete", "table", "ip", table(network));
        } catch (IOException e) {
            if (!e.getMessage().contains("No such file")) {
                throw e;
            }
        }
    }

    @Override
    public List<String> defaultRouteInterfaces() throws IOException {
        return routeDevices(run(ip, "-4", "route", "show", "default"));
    }

    /**
     * The devices {@code ip route show} names ({@code dev NAME}), each once, in order: one per plain route, one per
     * {@code nexthop} of a multipath route; none for {@code unreachable} or {@code blackhole} routes.
     */
    static List<String> routeDevices(String routes) {
        Set<String> devs = new LinkedHashSet<>();
        String[] t = routes.trim().split("\\s+");
        for (int i = 0; i + 1 < t.length; i++) {
            if (t[i].equals("dev")) {
                devs.add(t[i + 1]);
            }
        }
        return List.copyOf(devs);
    }

    @Override
    public String forwarding(String iface) throws IOException {
        Path f = forwardingFile(iface);
        return Files.exists(f) ? Files.readString(f, StandardCharsets.US_ASCII).strip() : null;
    }

    @Override
    public void setForwarding(String iface, String value) throws IOException {
        Path f = forwardingFile(iface);
        if (!Files.exists(f)) {
            throw new IOException("the host has no interface " + iface + " (" + f + " is missing)");
        }
        Files.writeString(f, value + "\n", StandardCharsets.US_ASCII);
    }

    private Path forwardingFile(String iface) throws IOException {
        // conf/all and conf/default are directories there too, and switch more than one interface.
        if (iface.isEmpty() || iface.contains("/") || iface.equals(".") || iface.equals("..") || iface.equals("all")
                || iface.equals("default")) {
            throw new IOException("'" + iface + "' is not an interface name");
        }
        return procNet.resolve(iface).resolve("forwarding");
    }

    @Override
    public void createTap(String tap, String bridge) throws IOException {
        run(ip, "tuntap", "add", "dev", tap, "mode", "tap");
        try {
            run(ip, "link", "set", tap, "master", bridge);
            run(ip, "link", "set", tap, "up");
        } catch (IOException e) {
            deleteTap(tap);
            throw e;
        }
    }

    @Override
    public void deleteTap(String tap) throws IOException {
        if (links().contains(tap)) {
            run(ip, "link", "del", tap);
        }
    }

    @Override
    public Set<String> links() throws IOException {
        Set<String> names = new LinkedHashSet<>();
        for (String line : run(ip, "-o", "link", "show").split("\n")) {
            // "3: zkt0a1b2c3d4e5: <BROADCAST,...>" or "4: veth0@if5: ..."
            String[] f = line.split(":\\s+", 3);
            if (f.length >= 2) {
                String n = f[1].trim();
                int at = n.indexOf('@');
                names.add(at < 0 ? n : n.substring(0, at));
            }
        }
        return names;
    }

    private String run(String... argv) throws IOException {
        return runWithInput(null, argv);
    }

    private String runWithInput(String input, String... argv) throws IOException {
        try {
            return runner.run(List.of(argv), input == null ? null : input.getBytes(StandardCharsets.UTF_8))
                    .requireSuccess();
        } catch (ProcessRunner.NotStarted e) {
            throw new IOException(e.getMessage() + (argv[0].endsWith("nft") ? ": install the nftables package" : ""),
                    e);
        }
    }
}

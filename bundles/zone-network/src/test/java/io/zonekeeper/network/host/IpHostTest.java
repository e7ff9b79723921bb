package io.zonekeeper.network.host;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import org.junit.Assume;
import org.junit.Test;

import io.zonekeeper.hostio.ProcessRunner;

public class IpHostTest {
    private static final String SCRIPT = IpHost.natScript("my-net", "zkb-my-net", "10.99.7.0/24", List.of("eth0"));
    private static final String TWO_UPLINKS = IpHost.natScript("my-net", "zkb-my-net", "10.99.7.0/24",
            List.of("eth0", "wlan0"));

    @Test
    public void theNatScriptMasqueradesTheSubnetLeavingByAnyOtherInterfaceInATableOfTheNetworksOwn() {
        assertEquals("zk_my_net", IpHost.table("my-net"));
        String common = "add table ip zk_my_net\n"
                + "add chain ip zk_my_net postrouting { type nat hook postrouting priority srcnat; }\n"
                + "add rule ip zk_my_net postrouting ip saddr 10.99.7.0/24 oifname != \"zkb-my-net\" masquerade\n"
                + "add chain ip zk_my_net forward { type filter hook forward priority filter; }\n"
                + "add rule ip zk_my_net forward iifname \"zkb-my-net\" oifname \"zkb-*\" drop\n";
        assertEquals(common + "add rule ip zk_my_net forward iifname \"eth0\" oifname \"zkb-*\" "
                + "ct state != { established, related } drop\n", SCRIPT);
        assertEquals(common + "add rule ip zk_my_net forward iifname { \"eth0\", \"wlan0\" } oifname \"zkb-*\" "
                + "ct state != { established, related } drop\n", TWO_UPLINKS);
        assertEquals("no uplink, no inbound rule", common, IpHost.natScript("my-net", "zkb-my-net", "10.99.7.0/24",
                List.of()));
    }

    @Test
    public void theDefaultRoutesDevicesAreReadFromIpRouteShowDefault() {
        assertEquals(List.of("eth0"), IpHost.routeDevices("default via 10.0.2.2 dev eth0 proto dhcp src 10.0.2.15 "
                + "metric 100 \n"));
        assertEquals("a multipath route, a backup route, an unreachable one", List.of("eth0", "wlan0", "wwan0"),
                IpHost.routeDevices("default \n\tnexthop via 10.1.0.1 dev eth0 weight 1 \n"
                        + "\tnexthop via 10.2.0.1 dev wlan0 weight 1 \n"
                        + "default via 10.2.0.1 dev wlan0 metric 200 \n"
                        + "default dev wwan0 scope link metric 300 \n"
                        + "unreachable default metric 400 \n"));
        assertEquals(List.of(), IpHost.routeDevices(""));
    }

    /** The per-interface switch, in a folder standing in for /proc/sys/net/ipv4/conf; all and default refused. */
    @Test
    public void forwardingIsReadAndWrittenPerInterface() throws Exception {
        java.nio.file.Path conf = java.nio.file.Files.createTempDirectory("conf");
        try {
            java.nio.file.Files.createDirectories(conf.resolve("eth0"));
            java.nio.file.Files.writeString(conf.resolve("eth0/forwarding"), "0\n");
            IpHost h = new IpHost("ip", "nft", conf, conf, IpHost.COMMAND_TIMEOUT);
            assertEquals("0", h.forwarding("eth0"));
            h.setForwarding("eth0", "1");
            assertEquals("1\n", java.nio.file.Files.readString(conf.resolve("eth0/forwarding")));
            assertEquals(null, h.forwarding("nope"));
            for (String bad : List.of("all", "default", "../x", "")) {
                try {
                    h.setForwarding(bad, "1");
                    throw new AssertionError("should have been refused: " + bad);
                } catch (java.io.IOException expected) {
                    assertTrue(expected.getMessage(), expected.getMessage().contains("is not an interface name")
                            || expected.getMessage().contains("no interface"));
                }
            }
        } finally {
            try (var w = java.nio.file.Files.walk(conf)) {
                w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * The script as the kernel takes it: loaded by the real nft in a network namespace of its own (unshare --net,
     * which dies with the command), never in this machine's. Skipped where there is no nft or no namespace.
     */
    @Test
    public void nftLoadsTheScriptAndListsTheRulesBack() throws Exception {
        Assume.assumeTrue("needs nft and unshare --net", run(List.of("unshare", "--net", "nft", "--version"), "")
                .startsWith("0:"));
        String out = run(List.of("unshare", "--net", "sh", "-c", "nft -f - && nft list table ip zk_my_net"), SCRIPT);
        assertTrue(out, out.startsWith("0:"));
        assertTrue(out, out.contains("type nat hook postrouting priority srcnat"));
        assertTrue(out, out.contains("ip saddr 10.99.7.0/24 oifname != \"zkb-my-net\" masquerade"));
        assertTrue(out, out.contains("iifname \"zkb-my-net\" oifname \"zkb-*\" drop"));
        assertTrue(out, out.contains("iifname \"eth0\" oifname \"zkb-*\" ct state != { established, related } drop"));
        out = run(List.of("unshare", "--net", "sh", "-c", "nft -f - && nft list table ip zk_my_net"), TWO_UPLINKS);
        assertTrue(out, out.startsWith("0:"));
        assertTrue(out, out.contains("iifname { \"eth0\", \"wlan0\" } oifname \"zkb-*\" ct state != { established, "
                + "related } drop"));
    }

    /**
     * The pin and host-guard scripts as the kernel takes them, each loaded twice (a start after a crash), in a
     * network namespace of its own: one copy of each rule, the link-local address from the MAC, the neighbour
     * advertisement target as bytes.
     */
    @Test
    public void nftLoadsThePinAndTheHostGuardOnceEachWhenRunTwice() throws Exception {
        Assume.assumeTrue("needs nft and unshare --net", run(List.of("unshare", "--net", "nft", "--version"), "")
                .startsWith("0:"));
        String pin = IpHost.pinScript("zkb-a", "zkt1", "0a:1b:2c:3d:4e:5f", "10.99.0.11", "fd00::81b:2cff:fe3d:4e5f");
        String guard = IpHost.hostGuardScript("zkb-a");
        String out = run(List.of("unshare", "--net", "sh", "-c", "nft -f - && nft -f - <<'E'\n" + pin + guard
                + "E\nnft list ruleset"), pin + guard);
        assertTrue(out, out.startsWith("0:"));
        for (String rule : List.of("iifname != \"zkt1\" accept", "ether saddr != 0a:1b:2c:3d:4e:5f drop",
                "arp saddr ether 0a:1b:2c:3d:4e:5f arp saddr ip 10.99.0.11 accept", "ip saddr 10.99.0.11 accept",
                "icmpv6 type nd-neighbor-advert @th,64,128 != { 0xfd00000000000000081b2cfffe3d4e5f, "
                        + "0xfe80000000000000081b2cfffe3d4e5f } drop",
                "ip6 saddr { ::, fd00::81b:2cff:fe3d:4e5f, fe80::81b:2cff:fe3d:4e5f } accept",
                "iifname != \"zkb-a\" accept", "ct state { established, related } accept")) {
            assertEquals(out, 1, out.split(java.util.regex.Pattern.quote(rule), -1).length - 1);
        }
        assertFalse(out, IpHost.pinScript("zkb-a", "zkt1", "0a:1b:2c:3d:4e:5f", "10.99.0.11", null).contains("ip6"));
    }

    /**
     * Two guests (network namespaces on veth pairs, standing in for taps) on a bridge, in a namespace of its own.
     * Before the pins a guest that takes an address it was not leased reaches its neighbour, which shows the check
     * can fail; once pinned, the honest guest still reaches its neighbour and is reached by the host, while the
     * guest gets nothing through with a foreign address or a foreign MAC, and nothing to the host.
     */
    @Test
    public void aPinnedGuestThatTakesAnotherAddressOrMacGetsNothingThrough() throws Exception {
        Assume.assumeTrue("needs unshare --net --mount, ip netns and busybox", run(List.of("unshare", "--net",
                "--mount", "sh", "-c", "command -v busybox && command -v nft && ip -V"), "").startsWith("0:"));
        StringBuilder sh = new StringBuilder("set -e\nmount --make-rprivate /\nmkdir -p /run/netns\n"
                + "mount -t tmpfs none /run/netns\nip link add zkb-t type bridge\n"
                + "ip addr add 10.99.9.1/24 dev zkb-t\nip link set zkb-t up\n");
        for (int g = 1; g <= 2; g++) {
            sh.append("ip netns add g" + g + "\nip link add zkt" + g + " type veth peer name eth0 netns g" + g + "\n"
                    + "ip link set zkt" + g + " master zkb-t up\nip -n g" + g + " link set eth0 address 0a:00:00:00:00:0"
                    + g + "\nip -n g" + g + " addr add 10.99.9.1" + g + "/24 dev eth0\nip -n g" + g
                    + " link set eth0 up\n");
        }
        String ping = "ip netns exec g1 busybox ping -c 1 -W 2 ";
        String takeIp = "ip -n g1 addr flush dev eth0\nip -n g1 addr add 10.99.9.13/24 dev eth0\n";
        sh.append(takeIp).append(ping + "10.99.9.12 >/dev/null && echo unpinned-spoof-through\n")
                .append("ip -n g1 addr flush dev eth0\nip -n g1 addr add 10.99.9.11/24 dev eth0\n")
                .append("nft -f - <<'E'\n").append(IpHost.hostGuardScript("zkb-t"))
                .append(IpHost.pinScript("zkb-t", "zkt1", "0a:00:00:00:00:01", "10.99.9.11", null))
                .append(IpHost.pinScript("zkb-t", "zkt2", "0a:00:00:00:00:02", "10.99.9.12", null)).append("E\n")
                .append(ping + "10.99.9.12 >/dev/null && echo honest-through\n")
                .append("busybox ping -c 1 -W 2 10.99.9.11 >/dev/null && echo host-reaches-g1\n")
                .append(ping + "10.99.9.1 >/dev/null && echo g1-reaches-host || true\n")
                .append(takeIp).append(ping + "10.99.9.12 >/dev/null && echo foreign-ip-through || true\n")
                .append("ip -n g1 addr flush dev eth0\nip -n g1 addr add 10.99.9.11/24 dev eth0\n")
                .append("ip -n g1 link set eth0 address 0a:00:00:00:00:09\n")
                .append(ping + "10.99.9.12 >/dev/null && echo foreign-mac-through || true\n");
        String out = run(List.of("unshare", "--net", "--mount", "sh", "-c", sh.toString()), "");
        assertEquals(out, "0:unpinned-spoof-through\nhonest-through\nhost-reaches-g1\n", out);
    }

    /**
     * An {@code ip} that hangs, its child holding the output open (as a stuck netlink call would leave it): the
     * command is killed at the timeout and the error says so, where a runner that read the output to its end first
     * would wait for the child and never reach its timeout.
     */
    @Test
    public void aHungIpCommandIsKilledAtItsTimeoutAndSaysSo() throws Exception {
        Path dir = Files.createTempDirectory("hung-ip");
        try {
            Path ip = dir.resolve("ip");
            Files.writeString(ip, "#!/bin/sh\nsleep 60 &\nwait\n");
            Files.setPosixFilePermissions(ip, PosixFilePermissions.fromString("rwx------"));
            IpHost h = new IpHost(ip.toString(), "nft", dir, dir, Duration.ofSeconds(1));
            try {
                h.links();
                throw new AssertionError("a hung ip must not be waited for");
            } catch (ProcessRunner.TimedOut e) {
                assertEquals(ip + " -o link show did not finish within 1 s and was killed", e.getMessage());
                ProcessHandle.of(e.pid()).ifPresent(p -> assertFalse("ip still runs", ProcessRunner.isRunning(p)));
            }
        } finally {
            try (var w = Files.walk(dir)) {
                w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** "EXIT:OUTPUT"; "-1:why" where it could not run. */
    private static String run(List<String> cmd, String input) {
        try {
            ProcessRunner.Result r = new ProcessRunner(Duration.ofSeconds(30)).run(cmd,
                    input.getBytes(StandardCharsets.UTF_8));
            return r.exitCode() + ":" + r.output();
        } catch (java.io.IOException e) {
            return "-1:" + e.getMessage();
        }
    }
}

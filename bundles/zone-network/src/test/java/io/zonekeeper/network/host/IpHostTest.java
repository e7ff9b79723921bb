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

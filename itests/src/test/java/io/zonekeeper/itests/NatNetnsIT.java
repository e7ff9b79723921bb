package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneState;

/**
 * NAT for real ({@code net:create --nat}), without touching the machine's interfaces. This JVM runs in a network
 * namespace of its own (src/test/netns/bin/java); the test makes a second one, the "outside" (an
 * {@code unshare --net cat} whose namespace lives exactly as long as that process: it ends when its stdin closes, so
 * at the latest with this JVM), and joins the two with a veth pair: {@code zkup0} (192.0.2.1/24, the uplink, in this
 * JVM's namespace) and {@code zkout0} (192.0.2.2/24, outside). The outside has no route at all besides its own /24,
 * so it can only answer a packet whose source was rewritten to the uplink's address; nft counters in the outside
 * namespace count the echo requests it receives by source address. The test gives this JVM's namespace a default
 * route by the uplink, so that {@code --nat} finds it as it would on a real host, and later gives the outside a
 * route to the zones' subnets through the uplink's address, so that it can try to reach them.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class NatNetnsIT {
    private static final Path STATE = Containers.newStateDir("nat");
    private static final String UPLINK = "zkup0";
    private static final String OUTSIDE_IF = "zkout0";
    private static final String UPLINK_IP = "192.0.2.1";
    private static final String OUTSIDE_IP = "192.0.2.2";
    private static final Pattern COUNTER = Pattern.compile("counter packets (\\d+) bytes \\d+ comment \"(\\w+)\"");
    /** The test's own table in this JVM's namespace: what of the outside's echo requests is sent onto a zone bridge. */
    private static final String WATCH = "natwatch";

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    private Process outside;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.networkAndDisk() };
    }

    @Before
    public void anOutsideNamespaceBehindAVethUplink() throws Exception {
        Containers.assumeOwnNetworkNamespace();
        // unshare execs cat in the new namespace, so the process's pid names the namespace.
        outside = new ProcessBuilder("unshare", "--net", "cat").redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String pid = String.valueOf(outside.pid());
        Path ours = Files.readSymbolicLink(Path.of("/proc/self/ns/net"));
        Path theirs = Path.of("/proc", pid, "ns", "net");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (ours.equals(Files.readSymbolicLink(theirs)) && System.nanoTime() < deadline) {
            Thread.sleep(20); // until unshare has made the namespace
        }
        assertFalse("the outside is a namespace of its own", ours.equals(Files.readSymbolicLink(theirs)));
        ok("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", OUTSIDE_IF, "netns", pid);
        ok("ip", "addr", "add", UPLINK_IP + "/24", "dev", UPLINK);
        ok("ip", "link", "set", UPLINK, "up");
        // The uplink starts as Debian's default has it: no forwarding. (A new interface takes conf/default, which
        // another test in this JVM's namespace may have switched on with ip_forward.) The appliance must switch it on.
        Files.writeString(forwardingFile(UPLINK), "0\n");
        ok("sh", "-c", "nft -f - <<'EOF'\n"
                + "add table ip " + WATCH + "\n"
                + "add chain ip " + WATCH + " post { type filter hook postrouting priority 0; }\n"
                + "add rule ip " + WATCH + " post oifname \"zkb-*\" ip saddr " + OUTSIDE_IP
                + " icmp type echo-request counter comment \"inbound\"\n"
                + "EOF");
        ok("nsenter", "-t", pid, "-n", "sh", "-c", "ip link set lo up && ip addr add " + OUTSIDE_IP + "/24 dev "
                + OUTSIDE_IF + " && ip link set " + OUTSIDE_IF + " up && nft -f - <<'EOF'\n"
                + "add table ip watch\n"
                + "add chain ip watch input { type filter hook input priority 0; }\n"
                + "add rule ip watch input icmp type echo-request ip saddr " + UPLINK_IP
                + " counter comment \"fromuplink\"\n"
                + "add rule ip watch input icmp type echo-request ip saddr != " + UPLINK_IP
                + " counter comment \"fromelsewhere\"\n"
                + "EOF");
        String routes = ok("nsenter", "-t", pid, "-n", "ip", "route", "show");
        assertTrue("the outside knows no way back but to its own /24: " + routes, routes.strip().lines().count() == 1
                && routes.startsWith("192.0.2.0/24 dev " + OUTSIDE_IF + " "));
        // The uplink works before any zone is involved: this namespace reaches the outside from its own address.
        assertTrue(ok("busybox", "ping", "-c", "1", "-W", "5", OUTSIDE_IP).contains("bytes from " + OUTSIDE_IP));
    }

    @After
    public void destroyEverything() throws Exception {
        if (zones != null) {
            for (ZoneInfo z : zones.list()) {
                long pid = z.runtime().containsKey("pid") ? Long.parseLong(z.runtime().get("pid")) : -1;
                Containers.run(shell, "zone:destroy " + z.name());
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            Containers.run(shell, "net:destroy nat");
            Containers.run(shell, "net:destroy plain");
        }
        host("nft", "delete", "table", "ip", WATCH);
        if (host("ip", "-o", "link", "show").contains(UPLINK)) {
            host("ip", "link", "del", UPLINK); // takes its peer in the outside with it, and the default route
        }
        if (outside != null) {
            outside.getOutputStream().close(); // cat ends, and its namespace with it
            if (!outside.waitFor(10, TimeUnit.SECONDS)) {
                outside.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private String fails(String command) {
        return Containers.run(shell, command).error();
    }

    private static Path forwardingFile(String iface) {
        return Path.of("/proc/sys/net/ipv4/conf", iface, "forwarding");
    }

    private static String forwarding(String iface) throws IOException {
        return Files.readString(forwardingFile(iface)).strip();
    }

    /** A command in the outside's namespace; its exit status and output. */
    private String outside(String command) throws IOException, InterruptedException {
        return host("nsenter", "-t", String.valueOf(outside.pid()), "-n", "sh", "-c", command);
    }

    /** How many echo requests from the outside this namespace has sent onto a zone network's bridge. */
    private static long inboundEchoRequests() throws Exception {
        String chain = ok("nft", "list", "chain", "ip", WATCH, "post");
        Matcher m = COUNTER.matcher(chain);
        assertTrue(chain, m.find());
        return Long.parseLong(m.group(1));
    }

    /** Exit status and output of a command in this JVM's namespace. */
    private static String host(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() + ":" + out;
    }

    /** The output of a command that must succeed. */
    private static String ok(String... argv) throws IOException, InterruptedException {
        String r = host(argv);
        assertTrue(String.join(" ", argv) + " failed: " + r, r.startsWith("0:"));
        return r.substring(2);
    }

    /** The outside's counters of echo requests: {from the uplink's address, from any other}. */
    private long[] echoRequestsOutside() throws Exception {
        String chain = ok("nsenter", "-t", String.valueOf(outside.pid()), "-n", "nft", "list", "chain", "ip", "watch",
                "input");
        long[] c = { -1, -1 };
        Matcher m = COUNTER.matcher(chain);
        while (m.find()) {
            c[m.group(2).equals("fromuplink") ? 0 : 1] = Long.parseLong(m.group(1));
        }
        assertTrue(chain, c[0] >= 0 && c[1] >= 0);
        return c;
    }

    private String console(String zone) throws Exception {
        Path log = zones.consoleLog(zone);
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }

    @Test
    public void aNatNetworkTakesTheDefaultRoutesUplinkForwardsThereOnlyWhatTheZonesOpenedAndPutsItBack()
            throws Exception {
        // No default route (and no --uplink): refused, and nothing made.
        String refused = fails("net:create --subnet 10.99.7.0/24 --nat nat");
        assertTrue(refused, refused.contains("no IPv4 default route") && refused.contains("--uplink"));
        assertFalse(host("ip", "-o", "link", "show").contains("zkb-nat"));
        assertFalse(ok("nft", "list", "tables").contains("zk_nat"));
        assertEquals("0", forwarding(UPLINK));

        ok("ip", "route", "add", "default", "via", OUTSIDE_IP, "dev", UPLINK);
        String made = sh("net:create --subnet 10.99.7.0/24 --nat nat");
        assertTrue(made, made.contains("bridge zkb-nat") && made.contains("NAT via " + UPLINK));
        assertEquals("the appliance switched forwarding on for the default route's interface", "1",
                forwarding(UPLINK));
        assertEquals("and for the NAT bridge", "1", forwarding("zkb-nat"));
        String table = ok("nft", "list", "table", "ip", "zk_nat");
        assertTrue(table, table.contains("ip saddr 10.99.7.0/24 oifname != \"zkb-nat\" masquerade"));
        assertTrue(table, table.contains("iifname \"" + UPLINK + "\" oifname \"zkb-*\" ct state != { established, "
                + "related } drop"));
        String info = sh("net:info nat");
        assertTrue(info, info.contains("uplink   " + UPLINK + " (the IPv4 default route's; IPv4 forwarding switched "
                + "on, was 0)"));
        sh("net:create --subnet 10.99.8.0/24 plain");
        assertEquals("a network without NAT does not forward", "0", forwarding("zkb-plain"));

        sh("zone:create --hypervisor kvm --networks nat=10.99.7.11 --start n1");
        sh("zone:create --hypervisor kvm --networks plain=10.99.8.11 --start p1");
        sh("zone:wait --timeout 180 --console 'zonekeeper: zone n1 ready' n1");
        sh("zone:wait --timeout 180 --console 'zonekeeper: zone p1 ready' p1");

        // Out: n1 reaches the outside, masqueraded; p1, without NAT, does not.
        long[] before = echoRequestsOutside();
        String exit = Containers.type(zones, "n1", "ping -c 3 -W 5 " + OUTSIDE_IP + "; echo nat-ping-exit-$?",
                Pattern.compile("nat-ping-exit-(\\d+)"), 60);
        String n1 = console("n1");
        System.out.println("n1 pinging the outside through NAT:\n" + n1.lines().filter(l -> l.contains("packets")
                || l.contains("bytes from")).reduce("", (x, y) -> x + y + "\n"));
        assertEquals("n1 reached the outside, which has no route to 10.99.7.0/24:\n" + n1, "0", exit);
        assertTrue(n1, n1.contains("bytes from " + OUTSIDE_IP));
        long[] after = echoRequestsOutside();
        assertTrue("the outside saw n1's echo requests from the uplink's address " + UPLINK_IP + ": " + before[0]
                + " -> " + after[0], after[0] - before[0] >= 3);
        assertEquals("and none from the zone's own address", before[1], after[1]);
        exit = Containers.type(zones, "p1", "ping -c 2 -W 2 " + OUTSIDE_IP + "; echo plain-ping-exit-$?",
                Pattern.compile("plain-ping-exit-(\\d+)"), 60);
        assertEquals("p1, on a network without NAT, got no answer:\n" + console("p1"), "1", exit);
        long[] last = echoRequestsOutside();
        assertEquals("nothing of p1 reached the outside", List.of(after[0], after[1]), List.of(last[0], last[1]));

        // In: the outside gets a route to both subnets through the uplink's address. The host's own addresses on the
        // bridges answer it (the route works), the zones behind them get nothing.
        String route = outside("ip route add 10.99.0.0/16 via " + UPLINK_IP);
        assertTrue(route, route.startsWith("0:"));
        for (String gateway : List.of("10.99.7.1", "10.99.8.1")) {
            String r = outside("busybox ping -c 1 -W 5 " + gateway);
            assertTrue("the outside reaches the host's " + gateway + ": " + r, r.startsWith("0:"));
        }
        long inbound = inboundEchoRequests();
        for (String zone : List.of("10.99.7.11", "10.99.8.11")) {
            String r = outside("busybox ping -c 2 -W 2 " + zone);
            assertFalse("the outside must not reach the zone at " + zone + ": " + r, r.startsWith("0:"));
        }
        assertEquals("no echo request of the outside's was forwarded onto a zone bridge", inbound,
                inboundEchoRequests());
        assertEquals("n1 and p1 still run", List.of(ZoneState.RUNNING, ZoneState.RUNNING), List.of(
                zones.get("n1").orElseThrow().state(), zones.get("p1").orElseThrow().state()));

        sh("zone:destroy n1");
        sh("zone:destroy p1");
        sh("net:destroy nat");
        assertEquals("the uplink's forwarding is back as the appliance found it", "0", forwarding(UPLINK));
        String tables = ok("nft", "list", "tables");
        assertFalse("the network's table went with it: " + tables, tables.contains("zk_nat"));
        assertFalse(host("ip", "-o", "link", "show").contains("zkb-nat"));
        sh("net:destroy plain");
    }
}

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
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Assume;
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
 * namespace count the echo requests it receives by source address.
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
        Assume.assumeTrue("the JVM runs in a network namespace of its own (ZK_NETNS=" + System.getenv("ZK_NETNS")
                + "); see src/test/netns/bin/java", "own".equals(System.getenv("ZK_NETNS")));
        String links = host("ip", "-o", "link", "show");
        assertFalse("the namespace has none of the machine's interfaces: " + links,
                links.lines().anyMatch(l -> !l.contains(" lo:") && !l.contains("zk")));
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
        // The uplink forwards, as a router's does: the replies to masqueraded packets come in on it and are routed to
        // the bridge after conntrack has put the zone's address back. The appliance switches forwarding on only on
        // the NAT network's bridge (see bundles/zone-network/README.md).
        Files.writeString(Path.of("/proc/sys/net/ipv4/conf", UPLINK, "forwarding"), "1\n");
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
        }
        if (host("ip", "-o", "link", "show").contains(UPLINK)) {
            host("ip", "link", "del", UPLINK); // takes its peer in the outside with it
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
    public void aZoneOnANatNetworkReachesTheOutsideFromTheUplinksAddressAndNotOnceTheNetworkIsGone()
            throws Exception {
        String made = sh("net:create --subnet 10.99.7.0/24 --nat nat");
        assertTrue(made, made.contains("bridge zkb-nat") && made.contains("NAT"));
        String table = ok("nft", "list", "table", "ip", "zk_nat");
        assertTrue(table, table.contains("ip saddr 10.99.7.0/24 oifname != \"zkb-nat\" masquerade"));
        assertEquals("the NAT bridge forwards", "1", Files.readString(Path.of(
                "/proc/sys/net/ipv4/conf/zkb-nat/forwarding")).strip());

        sh("zone:create --hypervisor kvm --networks nat=10.99.7.11 --start n1");
        sh("zone:wait --timeout 180 --console 'zonekeeper: zone n1 ready' n1");
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

        sh("zone:destroy n1");
        sh("net:destroy nat");
        String tables = ok("nft", "list", "tables");
        assertFalse("the network's table went with it: " + tables, tables.contains("zk_nat"));
        assertFalse(host("ip", "-o", "link", "show").contains("zkb-nat"));

        // The same subnet without --nat: no rule, and a zone on it no longer reaches the outside.
        sh("net:create --subnet 10.99.7.0/24 nat");
        assertFalse(ok("nft", "list", "tables").contains("zk_nat"));
        sh("zone:create --hypervisor kvm --networks nat=10.99.7.11 --cmdline 'zk.run=\"ping -c 3 -W 2 " + OUTSIDE_IP
                + "\"' --start n2");
        ZoneInfo z = zones.await("n2", Set.of(ZoneState.STOPPED, ZoneState.CRASHED), Duration.ofSeconds(180));
        String n2 = console("n2");
        assertEquals(z.reason() + "\n" + n2, ZoneState.STOPPED, z.state());
        assertTrue("n2 pinged:\n" + n2, n2.contains("3 packets transmitted, 0 packets received"));
        assertFalse(n2, n2.contains("bytes from " + OUTSIDE_IP));
        assertFalse(n2, n2.contains("zonekeeper: zone n2 finished, exit 0"));
        long[] last = echoRequestsOutside();
        assertEquals("nothing of n2 reached the outside", List.of(after[0], after[1]), List.of(last[0], last[1]));
    }
}

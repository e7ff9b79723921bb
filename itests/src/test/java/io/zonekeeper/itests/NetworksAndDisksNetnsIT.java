package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static io.zonekeeper.itests.Containers.host;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
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
 * Real networks and disks: bridges and taps made by the appliance, QEMU guests that ping each other and keep
 * files on their disks, all in Felix with the real bundles and the real shell. This JVM runs in a network
 * namespace of its own (src/test/netns/bin/java): every bridge, tap and packet of these tests stays inside it. No NAT.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class NetworksAndDisksNetnsIT {
    private static final Path STATE = Containers.newStateDir("netdisk");

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.networkAndDisk() };
    }

    @Before
    public void onlyInANamespaceOfOurOwn() throws Exception {
        Containers.assumeOwnNetworkNamespace();
        // Forwarding on for the whole namespace: zones on different networks must still not reach each other,
        // because the appliance turns forwarding off on each bridge.
        Files.writeString(Path.of("/proc/sys/net/ipv4/ip_forward"), "1\n");
        // The same for IPv6, where forwarding is one switch for the namespace: the appliance's rule per bridge
        // must keep the networks apart.
        Files.writeString(Path.of("/proc/sys/net/ipv6/conf/all/forwarding"), "1\n");
    }

    @After
    public void destroyEverything() {
        for (ZoneInfo z : zones.list()) {
            long pid = z.runtime().containsKey("pid") ? Long.parseLong(z.runtime().get("pid")) : -1;
            Containers.run(shell, "zone:destroy " + z.name());
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        for (String n : new String[] { "a", "b", "six", "other" }) {
            Containers.run(shell, "net:destroy " + n);
        }
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private String fails(String command) {
        return Containers.run(shell, command).error();
    }

    /** The names of the namespace's interfaces, sorted (their flags and addresses change as taps come and go). */
    private static List<String> linkNames() throws IOException, InterruptedException {
        return host("ip", "-o", "link", "show").lines().map(l -> l.split(":\\s+", 3)[1].replaceFirst("@.*", ""))
                .sorted().toList();
    }

    /** Whether net:info lists a lease of the zone (its name ends a lease line). */
    private boolean hasLease(String network, String zone) {
        return sh("net:info " + network).lines().anyMatch(l -> l.startsWith("lease") && l.endsWith(" " + zone));
    }

    private String console(String zone) throws Exception {
        Path log = zones.consoleLog(zone);
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }

    private String awaitStopped(String zone, int seconds) throws Exception {
        ZoneInfo z = zones.await(zone, Set.of(ZoneState.STOPPED, ZoneState.CRASHED), Duration.ofSeconds(seconds));
        assertEquals(z.reason() + "\n" + console(zone), ZoneState.STOPPED, z.state());
        return console(zone);
    }

    private static String tapOf(ZoneInfo z) {
        Matcher m = Pattern.compile("tap (zkt[0-9a-f]+)").matcher(z.runtime().getOrDefault("nic.0", ""));
        assertTrue(z.runtime().toString(), m.find());
        return m.group(1);
    }

    /** What a ping typed on the zone's console received, "0" to "3"; the console text goes to the output. */
    private String pingFrom(String zone, String target, String what) throws Exception {
        String got = Containers.type(zones, zone, "ping -c 3 -W 2 " + target + " | grep -o '[0-9] packets rec'"
                + " | sed 's/^/" + what + "-/'", Pattern.compile(what + "-(\\d) packets rec"), 60);
        System.out.println(zone + ", " + what + " (" + target + "): " + got + " of 3 received");
        return got;
    }

    /**
     * A hostile guest, from its own console: with its own address it reaches its neighbour but not the host; with
     * its neighbour's address, or an address nobody leased, it reaches neither; with another MAC, nothing. Its
     * neighbour and the host keep reaching each other throughout, and it gets everything back with its own lease.
     */
    @Test
    public void aZoneThatTakesAnotherAddressOrMacGetsNothingThroughAndItsNeighbourIsUnaffected() throws Exception {
        sh("net:create --subnet 10.99.4.0/24 h");
        sh("zone:create --hypervisor kvm --networks h=10.99.4.11 --start h1");
        sh("zone:create --hypervisor kvm --networks h=10.99.4.12 --start h2");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone h1 ready' h1");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone h2 ready' h2");
        assertEquals("3", pingFrom("h2", "10.99.4.11", "honest"));
        assertEquals("zones reach no service of the host, not even the gateway's echo", "0",
                pingFrom("h2", "10.99.4.1", "to-host"));
        assertTrue(Containers.host("busybox", "ping", "-c", "2", "-W", "5", "10.99.4.12").contains("bytes from"));

        Containers.type(zones, "h2", "ip addr flush dev eth0; ip addr add 10.99.4.11/24 dev eth0; echo took-h1-ip",
                Pattern.compile("(took-h1-ip)"), 30);
        assertEquals("0", pingFrom("h2", "10.99.4.1", "as-h1-to-host"));
        assertTrue("the host still reaches the real h1", Containers.host("busybox", "ping", "-c", "2", "-W", "5",
                "10.99.4.11").contains("bytes from"));
        Containers.type(zones, "h2", "ip addr flush dev eth0; ip addr add 10.99.4.13/24 dev eth0; echo took-13",
                Pattern.compile("(took-13)"), 30);
        assertEquals("0", pingFrom("h2", "10.99.4.11", "as-13-to-h1"));
        Containers.type(zones, "h2", "ip addr flush dev eth0; ip addr add 10.99.4.12/24 dev eth0;"
                + " m=$(cat /sys/class/net/eth0/address); ip link set eth0 down;"
                + " ip link set eth0 address 0a:00:00:00:00:99; ip link set eth0 up; echo took-mac",
                Pattern.compile("(took-mac)"), 30);
        assertEquals("0", pingFrom("h2", "10.99.4.11", "other-mac-to-h1"));
        assertTrue("the host still reaches h1", Containers.host("busybox", "ping", "-c", "2", "-W", "5",
                "10.99.4.11").contains("bytes from"));
        Containers.type(zones, "h2", "ip link set eth0 down; ip link set eth0 address $m; ip link set eth0 up;"
                + " echo own-mac-back", Pattern.compile("(own-mac-back)"), 30);
        assertEquals("with its own lease again h2 reaches h1", "3", pingFrom("h2", "10.99.4.11", "own-again"));
        assertEquals("h1's own traffic to h2 is unchanged", "3", pingFrom("h1", "10.99.4.12", "h1-to-h2"));
    }

    @Test
    public void twoZonesOnANetworkPingEachOtherAndAZoneOnAnotherNetworkCannotReachThem() throws Exception {
        assertTrue(sh("net:create --subnet 10.99.0.0/24 a").contains("bridge zkb-a"));
        sh("net:create --subnet 10.99.1.0/24 b");
        String linksBefore = host("ip", "-o", "link", "show");

        // Bad input: a clear error, and nothing changes.
        assertTrue(fails("net:create --subnet 10.99.0.128/25 c").contains("overlaps network a"));
        sh("zone:create --hypervisor kvm --networks a=10.99.5.5 outside");
        String outside = fails("zone:start outside");
        assertTrue(outside, outside.contains("networks[0].ip: 10.99.5.5 is outside subnet 10.99.0.0/24"));
        assertEquals(ZoneState.DEFINED, zones.get("outside").orElseThrow().state());
        assertEquals(linksBefore, host("ip", "-o", "link", "show"));
        sh("zone:destroy outside");

        sh("zone:create --hypervisor kvm --networks a=10.99.0.11 --start a1");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone a1 ready' a1");
        String a1Tap = tapOf(zones.get("a1").orElseThrow());
        assertTrue("the appliance made the tap and enslaved it to the bridge",
                host("ip", "-o", "link", "show", a1Tap).contains("master zkb-a"));
        List<String> linksWithA1 = linkNames();
        String taken = fails("zone:create --hypervisor kvm --networks a=10.99.0.11 --start dup");
        assertTrue(taken, taken.contains("10.99.0.11 is already leased to zone a1"));
        assertEquals(ZoneState.DEFINED, zones.get("dup").orElseThrow().state());
        assertEquals("the refused zone made no tap", linksWithA1, linkNames());
        assertFalse(hasLease("a", "dup"));
        sh("zone:destroy dup");

        // a2 pings a1, then waits on its console until the test lets it go, so that a1 can ping it back and b1 can
        // try it while it runs; b1 waits until it is let go, then tries both.
        sh("zone:create --hypervisor kvm --networks a=10.99.0.12 --cmdline 'zk.run=\"ping -c 3 -W 5 10.99.0.11;"
                + " r=$?; echo a2-pinged-a1-exit-$r; read x; exit $r\"' --start a2");
        sh("zone:create --hypervisor kvm --networks b --cmdline 'zk.run=\"read x; ping -c 3 -W 2 10.99.0.11;"
                + " ping -c 3 -W 2 10.99.0.12\"' --start b1");
        sh("zone:wait --timeout 180 --console a2-pinged-a1-exit- a2");
        String a1ToA2 = Containers.type(zones, "a1", "ping -c 3 -W 5 10.99.0.12; echo a1-pinged-a2-exit-$?",
                Pattern.compile("a1-pinged-a2-exit-(\\d+)"), 60);
        String a1 = console("a1");
        assertTrue("a1 reached a2 on network a:\n" + a1, "0".equals(a1ToA2) && a1.contains("bytes from 10.99.0.12"));
        sh("zone:wait --timeout 180 --console 'zonekeeper: zone b1 ready' b1");
        Containers.type(zones, "b1", "go", Pattern.compile("zonekeeper: zone b1 finished, exit (\\d+)"), 60);
        assertEquals("a2 was still running while b1 tried it", ZoneState.RUNNING, zones.get("a2").orElseThrow()
                .state());
        Containers.type(zones, "a2", "go", Pattern.compile("zonekeeper: zone a2 finished, exit (\\d+)"), 60);
        String a2 = awaitStopped("a2", 120);
        String b1 = awaitStopped("b1", 120);
        for (String[] z : new String[][] { { "a2 pinging a1", a2 }, { "a1 pinging a2", a1 },
                { "b1 pinging a1 and a2", b1 } }) {
            System.out.println(z[0] + ":\n" + z[1].lines().filter(l -> l.contains("packets transmitted")
                    || l.contains("bytes from")).reduce("", (x, y) -> x + y + "\n"));
        }
        assertTrue("a2 reached a1 on network a:\n" + a2, a2.contains("bytes from 10.99.0.11")
                && a2.contains("zonekeeper: zone a2 finished, exit 0"));
        assertFalse("b1 on network b must not reach a1:\n" + b1, b1.contains("bytes from 10.99.0.11"));
        assertFalse("b1 on network b must not reach a2:\n" + b1, b1.contains("bytes from 10.99.0.12"));
        assertEquals("b1 pinged both, and neither answered:\n" + b1, 2, Pattern.compile("3 packets transmitted, 0 "
                + "packets received").matcher(b1).results().count());
        assertFalse(b1, b1.contains("zonekeeper: zone b1 finished, exit 0"));

        String info = sh("net:info a");
        assertTrue(info, info.contains("10.99.0.11") && info.contains("a1"));
        assertFalse("a2 stopped, so its lease is given back: " + info, info.lines().anyMatch(l -> l.startsWith("lease")
                && l.endsWith(" a2")));
        String refused = fails("net:destroy a");
        assertTrue(refused, refused.contains("used by zone(s) a1, a2"));
        assertTrue("the network in use is still there", sh("net:list").contains("zkb-a")
                && host("ip", "-o", "link", "show", "zkb-a").contains("zkb-a"));

        sh("zone:destroy a1");
        assertFalse("the tap went with the zone", host("ip", "-o", "link", "show").contains(a1Tap));
        assertFalse(sh("net:info a").contains("lease"));
        assertFalse(sh("net:list").contains("orphan"));
    }

    @Test
    public void aZoneKeepsAFileOnItsDiskAcrossAStopAndTheDiskIsRefusedToASecondZone() throws Exception {
        Path content = Files.createTempDirectory("zk-disk-content");
        Files.writeString(content.resolve("hello.txt"), "hello-from-the-host\n");
        assertTrue(sh("disk:create --size 16M --from " + content + " data").contains("data.img"));
        Path image = STATE.resolve("disks/data.img");

        String run = "zk.run=\"cat /mnt/data/hello.txt; cat /mnt/data/note.txt || echo no-note-yet;"
                + " echo kept-$((6*7)) > /mnt/data/note.txt; sync\"";
        sh("zone:create --hypervisor kvm --disks " + image + " --cmdline '" + run + "' --start w1");
        String first = awaitStopped("w1", 120);
        assertTrue(first, first.contains("hello-from-the-host") && first.contains("no-note-yet"));
        assertTrue("the lock went when the guest powered off", sh("disk:list").contains(" - "));

        sh("zone:start w1");
        String second = awaitStopped("w1", 120);
        assertTrue("the file written before the stop is read back:\n" + second, second.contains("kept-42"));

        // Read-write to one running zone only; the holder is named and nothing changes for the refused one.
        sh("zone:create --hypervisor kvm --disks " + image + " --start holder");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone holder ready' holder");
        assertTrue(sh("disk:list").contains("holder"));
        // The refused zone names a network too: its tap and lease, made before the disk was refused, are undone.
        sh("net:create --subnet 10.99.0.0/24 a");
        List<String> linksBefore = linkNames();
        sh("zone:create --hypervisor kvm --networks a --disks " + image + " second");
        String inUse = fails("zone:start second");
        assertTrue(inUse, inUse.contains("attached read-write to zone holder"));
        assertEquals(ZoneState.DEFINED, zones.get("second").orElseThrow().state());
        assertEquals("no tap left by the refused start", linksBefore, linkNames());
        assertFalse("no lease left by the refused start", hasLease("a", "second"));
        assertTrue(fails("disk:destroy data").contains("zone holder"));

        // A symlink out of the allowed folders is followed to its real path and refused.
        Path outside = Files.createTempDirectory("zk-outside");
        Files.write(outside.resolve("secret.img"), new byte[1 << 20]);
        Path link = Files.createSymbolicLink(STATE.resolve("disks/innocent.img"), outside.resolve("secret.img"));
        sh("zone:create --hypervisor kvm --disks " + link + " sneaky");
        String escaped = fails("zone:start sneaky");
        assertTrue(escaped, escaped.contains("disks[0].path") && escaped.contains("is outside the folders"));
        assertEquals(ZoneState.DEFINED, zones.get("sneaky").orElseThrow().state());
        Files.delete(link);
        // And a plain path outside them, no symlink on the way.
        sh("zone:create --hypervisor kvm --disks " + outside.resolve("secret.img") + " plain");
        String plain = fails("zone:start plain");
        assertTrue(plain, plain.contains("disks[0].path") && plain.contains("is outside the folders"));
        assertFalse("nothing was locked for the refused zones", sh("disk:list").contains("sneaky")
                || sh("disk:list").contains("plain"));
    }

    @Test
    public void aDiskCanBeTheZonesRoot() throws Exception {
        Path root = Files.createTempDirectory("zk-rootfs");
        Files.createDirectories(root.resolve("bin"));
        Files.createDirectories(root.resolve("sbin"));
        Files.createDirectories(root.resolve("proc"));
        Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
        Path init = root.resolve("sbin/init");
        Files.writeString(init, "#!/bin/busybox sh\n/bin/busybox echo \"rootfs init ran as pid $$ on"
                + " $(/bin/busybox cat /proc/mounts | /bin/busybox grep ' / ' | /bin/busybox cut -d' ' -f1,3)\"\n"
                + "/bin/busybox poweroff -f\n");
        init.toFile().setExecutable(true);
        sh("disk:create --size 32M --from " + root + " rootfs");
        sh("zone:create --hypervisor kvm --disks " + STATE.resolve("disks/rootfs.img") + " --cmdline zk.root=rootfs"
                + " --start r1");
        String console = awaitStopped("r1", 120);
        assertTrue(console, console.contains("zonekeeper: zone r1 switching root to /dev/vd"));
        assertTrue(console, Pattern.compile("rootfs init ran as pid 1 on /dev/vd. ext4").matcher(console).find());
    }

    private static int received(String console, String after) {
        Matcher m = Pattern.compile("(\\d+) packets transmitted, (\\d+) packets received")
                .matcher(console.substring(console.indexOf(after)));
        assertTrue(console, m.find());
        return Integer.parseInt(m.group(1)) - Integer.parseInt(m.group(2));
    }

    @Test
    public void aPingBetweenZonesKeepsAnsweringThroughADriverUpgrade() throws Exception {
        sh("net:create --subnet 10.99.0.0/24 a");
        sh("zone:create --hypervisor kvm --networks a=10.99.0.11 --start a1");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone a1 ready' a1");
        ZoneInfo a1 = zones.get("a1").orElseThrow();
        String tap = tapOf(a1);
        // Two equal windows of 30 pings 0.2 s apart: the first without an upgrade, the second across one.
        sh("zone:create --hypervisor kvm --networks a --cmdline 'zk.run=\"ping -q -c 30 -i 0.2 10.99.0.11;"
                + " echo window-two; ping -q -c 30 -i 0.2 10.99.0.11\"' --start a2");
        sh("zone:wait --timeout 120 --console 'window-two' a2");
        Thread.sleep(1500);
        String upgraded = sh("driver:upgrade kvm " + Containers.testBuild("kvm-driver-next"));
        assertTrue(upgraded, upgraded.contains("adopted 2 zone(s)"));
        String console = awaitStopped("a2", 120);
        int lostBefore = received(console, "zonekeeper: zone a2 ready");
        int lostAcross = received(console, "window-two");
        System.out.printf("ping a2 -> a1: %d of 30 lost without an upgrade, %d of 30 across driver:upgrade kvm%n",
                lostBefore, lostAcross);
        assertTrue("lost " + lostAcross + " across the upgrade, " + lostBefore + " without:\n" + console,
                lostAcross <= lostBefore);
        ZoneInfo after = zones.get("a1").orElseThrow();
        assertEquals("same QEMU", a1.runtime().get("pid"), after.runtime().get("pid"));
        assertTrue("the tap outlived the driver it was handed to", host("ip", "-o", "link", "show", tap)
                .contains("master zkb-a"));

        // QEMU dies unasked: the zone is CRASHED, and its tap and lease are given back all the same.
        ProcessHandle.of(Long.parseLong(after.runtime().get("pid"))).orElseThrow().destroyForcibly();
        assertEquals(ZoneState.CRASHED, zones.await("a1", Set.of(ZoneState.CRASHED), Duration.ofSeconds(30)).state());
        // The watcher that saw the crash gives them back just after it publishes the state.
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((host("ip", "-o", "link", "show").contains(tap) || sh("net:info a").contains("lease"))
                && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertFalse(host("ip", "-o", "link", "show").contains(tap));
        assertFalse(sh("net:info a").contains("lease"));
    }

    private static final Pattern LEASE6 = Pattern.compile("lease +\\S+ +(fd[0-9a-f:]+) ");

    @Test
    public void twoZonesPingEachOtherOverIpv6AndAZoneOnAnotherNetworkCannotReachThem() throws Exception {
        String made = sh("net:create --subnet 10.99.2.0/24 --ipv6 auto six");
        Matcher pm = Pattern.compile("ipv6 (fd[0-9a-f:]+::)/64 gateway \\S+").matcher(made);
        assertTrue(made, pm.find());
        String gateway6 = pm.group(1) + "1";
        assertTrue("the bridge has the IPv6 gateway", host("ip", "-6", "-o", "addr", "show", "dev", "zkb-six")
                .contains(gateway6 + "/64"));
        sh("net:create --subnet 10.99.3.0/24 --ipv6 fd00:99:3::/64 other");
        assertTrue(fails("net:create --subnet 10.99.4.0/24 --ipv6 " + pm.group(1) + "/64 again")
                .contains("overlaps network six"));

        sh("zone:create --hypervisor kvm --networks six --start s1");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone s1 ready' s1");
        Matcher lm = LEASE6.matcher(sh("net:info six"));
        assertTrue(sh("net:info six"), lm.find());
        String s1 = lm.group(1);
        assertTrue(s1, s1.startsWith(pm.group(1).replace("::", ":")));
        assertTrue("the zone init configured " + s1 + ":\n" + console("s1"), console("s1").contains(" " + s1 + "/64"));
        // The host (the gateway) reaches the zone over IPv6.
        String fromHost = host("busybox", "ping", "-c", "2", "-W", "5", s1);
        assertTrue(fromHost, fromHost.contains("bytes from " + s1));

        sh("zone:create --hypervisor kvm --networks six --cmdline 'zk.run=\"ping -c 3 -W 5 " + s1 + "\"' --start s2");
        sh("zone:create --hypervisor kvm --networks other --cmdline 'zk.run=\"ping -c 3 -W 2 " + s1 + "\"' --start o1");
        String s2 = awaitStopped("s2", 120);
        String o1 = awaitStopped("o1", 120);
        System.out.println("s2 pinging s1 over IPv6:\n" + s2.lines().filter(l -> l.contains("packets")
                || l.contains("bytes from")).reduce("", (x, y) -> x + y + "\n"));
        assertTrue("s2 reached s1 over IPv6 on network six:\n" + s2, s2.contains("bytes from " + s1)
                && s2.contains("zonekeeper: zone s2 finished, exit 0"));
        assertTrue("o1 has an IPv6 address and route of its own network:\n" + o1, o1.contains(" fd00:99:3:0:"));
        assertFalse("o1 on network other must not reach s1, though the namespace forwards IPv6:\n" + o1,
                o1.contains("bytes from " + s1));
        assertFalse(o1, o1.contains("zonekeeper: zone o1 finished, exit 0"));

        sh("zone:destroy s1; zone:destroy s2; zone:destroy o1");
        sh("net:destroy six");
        String rules = host("ip", "-6", "rule", "show");
        assertFalse("the network's rule went with it: " + rules, rules.contains("zkb-six"));
    }
}

package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static io.zonekeeper.itests.Containers.host;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

/**
 * The appliance crashes (kill -9 of its JVM) while zones run on a network and a disk, and their QEMU processes die
 * too before a new appliance starts: the new one must not leave their taps, leases and disk locks behind. Runs the
 * assembled distribution, as an operator does, in this JVM's network namespace of its own
 * (src/test/netns/bin/java): every bridge and tap here lives and dies in it.
 */
public class ApplianceCrashNetnsIT {
    private Path dist;
    private Path state;
    private final List<Process> appliances = new ArrayList<>();
    private final List<Long> guestPids = new ArrayList<>();

    @Before
    public void setUp() throws Exception {
        Containers.assumeOwnNetworkNamespace();
        dist = Path.of(System.getProperty("zk.repo.root", "..")).resolve("launcher/target/zonekeeper")
                .toAbsolutePath().normalize();
        assertTrue("the distribution is built at " + dist, Files.isExecutable(dist.resolve("bin/zonekeeper")));
        state = Files.createTempDirectory("zk-crash");
    }

    @After
    public void tearDown() throws Exception {
        for (Process p : appliances) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (long pid : guestPids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    private Process startAppliance(String name) throws Exception {
        // A killed appliance leaves its socket; the new one replaces it, but a -c sent before that would start a
        // one-shot appliance of its own. So the socket that appears below is the new appliance's.
        Files.deleteIfExists(state.resolve("run/control.sock"));
        Path log = state.resolve(name + ".log");
        Process p = inThisNamespace(new ProcessBuilder(dist.resolve("bin/zonekeeper").toString(), "--state",
                state.toString(), "--no-shell")).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        appliances.add(p);
        // Answered by this appliance, not by a one-shot one that -c would start: its PID is the JVM's.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            if (Files.exists(state.resolve("run/control.sock"))) {
                Cli r = cli("$.context property zonekeeper.pid");
                if (r.rc == 0 && r.out.strip().equals(Long.toString(p.pid()))) {
                    return p;
                }
            }
            assertTrue("the appliance " + name + " died: " + Files.readString(log), p.isAlive());
            assertTrue("the appliance " + name + " did not answer: " + Files.readString(log),
                    System.nanoTime() < deadline);
            Thread.sleep(200);
        }
    }

    /**
     * bin/zonekeeper runs $JAVA_HOME/bin/java, and here JAVA_HOME may point at src/test/netns, whose bin/java makes a
     * namespace of its own: the appliance would make its bridges where this test cannot see them. The real java.
     */
    private static ProcessBuilder inThisNamespace(ProcessBuilder pb) {
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return pb;
    }

    private record Cli(int rc, String out) {
    }

    private Cli cli(String commands) throws Exception {
        Process p = inThisNamespace(new ProcessBuilder(dist.resolve("bin/zonekeeper").toString(), "--state",
                state.toString(), "-c", commands)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue("bin/zonekeeper -c did not finish", p.waitFor(120, TimeUnit.SECONDS));
        return new Cli(p.exitValue(), out);
    }

    private String ok(String commands) throws Exception {
        Cli r = cli(commands);
        assertEquals("bin/zonekeeper -c '" + commands + "' failed:\n" + r.out, 0, r.rc);
        return r.out;
    }

    private JsonObject zone(String name) throws Exception {
        String out = ok("zone:list --json");
        JsonArray all = Json.createReader(new java.io.StringReader(out.substring(out.indexOf('[')))).readArray();
        for (JsonObject z : all.getValuesAs(JsonObject.class)) {
            if (z.getString("name").equals(name)) {
                return z;
            }
        }
        throw new AssertionError("no zone " + name + " in " + out);
    }

    private static String tapOf(JsonObject zone) {
        Matcher m = Pattern.compile("tap (zkt[0-9a-f]+)").matcher(zone.getJsonObject("runtime").getString("nic.0"));
        assertTrue(zone.toString(), m.find());
        return m.group(1);
    }

    /** Whether net:info a lists a lease of the zone (the last word of a lease line). */
    private boolean leaseOf(String zone) throws Exception {
        return ok("net:info a").lines().anyMatch(l -> l.startsWith("lease") && l.endsWith(" " + zone));
    }

    private static boolean hasLink(String name) throws Exception {
        return host("ip", "-o", "link", "show").contains(" " + name + ":");
    }

    @Test
    public void afterACrashOfTheApplianceAndItsZonesTheNextOneGivesBackTheirTapsLeasesAndLocks() throws Exception {
        Process first = startAppliance("first");
        Path image = state.resolve("disks/data.img");
        ok("net:create --subnet 10.99.0.0/24 --ipv6 auto a; disk:create --size 8M data");
        ok("zone:create --hypervisor kvm --networks a --disks " + image + " --start known; "
                + "zone:create --hypervisor kvm --networks a=10.99.0.20 --start lost");
        ok("zone:wait --timeout 90 --console 'zonekeeper: zone known ready' known; "
                + "zone:wait --timeout 90 --console 'zonekeeper: zone lost ready' lost");
        JsonObject known = zone("known");
        JsonObject lost = zone("lost");
        String knownTap = tapOf(known);
        String lostTap = tapOf(lost);
        long knownPid = Long.parseLong(known.getJsonObject("runtime").getString("pid"));
        long lostPid = Long.parseLong(lost.getJsonObject("runtime").getString("pid"));
        guestPids.add(knownPid);
        guestPids.add(lostPid);
        assertTrue(ok("disk:list").contains("known"));

        // kill -9 of the appliance, then both guests die while no appliance watches.
        new ProcessBuilder("kill", "-9", Long.toString(first.pid())).start().waitFor();
        assertTrue(first.waitFor(10, TimeUnit.SECONDS));
        for (long pid : List.of(knownPid, lostPid)) {
            ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
            h.destroyForcibly();
            h.onExit().get(10, TimeUnit.SECONDS);
        }
        assertTrue("nobody removed the taps " + knownTap + " and " + lostTap + ": " + host("ip", "-o", "link", "show"),
                hasLink(knownTap) && hasLink(lostTap));
        // The record of one zone is damaged meanwhile: the next appliance quarantines it and does not know it.
        Files.writeString(state.resolve("zones/lost/zone.json"), "{ not json");
        // And a tap of ours with no lease: made, then the appliance died before it wrote the lease.
        String stray = "zkt0000000dead";
        host("ip", "tuntap", "add", "dev", stray, "mode", "tap");
        assertTrue(hasLink(stray));

        startAppliance("second");
        // The known zone: the new appliance finds its guest gone, and gives back its tap, lease and disk lock.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (hasLink(knownTap) || leaseOf("known") || ok("disk:list").contains(" known ")) {
            assertTrue("the crashed zone's tap, lease or lock was not given back:\n" + ok("zone:list; net:info a; "
                    + "disk:list") + Files.readString(state.resolve("second.log")), System.nanoTime() < deadline);
            Thread.sleep(250);
        }
        JsonObject after = zone("known");
        assertEquals("CRASHED", after.getString("state"));
        assertTrue(after.toString(), after.getString("reason").contains("not adopted"));
        String log = Files.readString(state.resolve("second.log"));
        System.out.println("second appliance on the crash:\n" + log.lines().filter(l -> l.contains("orphan")
                || l.contains("adopted")).reduce("", (x, y) -> x + y + "\n"));

        // The zone it does not know (quarantined) and the stray tap: reported, not touched until the operator says.
        String list = ok("zone:list; net:list");
        assertTrue(list, list.contains("quarantine"));
        assertTrue(list, list.contains("orphan: lease 10.99.0.20 on network a (tap " + lostTap + ") is held by zone "
                + "lost"));
        assertTrue(list, list.contains("orphan: tap " + stray + " has no lease"));
        assertFalse("a crashed zone that is known is no orphan: " + list, list.lines().anyMatch(l -> l.startsWith(
                "orphan:") && l.contains("zone known")));
        assertTrue(hasLink(lostTap) && hasLink(stray));
        String orphans = ok("net:orphans");
        assertTrue(orphans, orphans.contains(lostTap) && orphans.contains(stray));

        String released = ok("net:orphans --release");
        assertTrue(released, released.contains("released: lease 10.99.0.20 ") && released.contains("of zone lost"));
        assertTrue(released, released.contains("released: tap " + stray + ", which had no lease"));
        assertFalse("the taps are gone", hasLink(lostTap) || hasLink(stray));
        assertTrue(ok("net:orphans").contains("no orphans"));
        assertFalse(ok("net:list").contains("orphan"));
        assertTrue(ok("disk:orphans").contains("no orphans"));

        // What was given back can be had again: the address of the lost zone and the disk the crashed one wrote to.
        ok("zone:create --hypervisor kvm --networks a=10.99.0.20 --disks " + image + " --start again");
        ok("zone:wait --timeout 90 --console 'zonekeeper: zone again ready' again");
        guestPids.add(Long.parseLong(zone("again").getJsonObject("runtime").getString("pid")));
        assertTrue(ok("disk:list").contains(" again "));
        ok("zone:destroy again; zone:destroy known");
        assertEquals("", host("ip", "-o", "link", "show").lines().filter(l -> l.contains("zkt"))
                .reduce("", String::concat));
        ok("disk:destroy data; net:destroy a");
        assertFalse(hasLink("zkb-a"));
    }
}

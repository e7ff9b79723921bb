package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

/**
 * Zone-to-zone channels on real QEMU: two zones whose specs name each other exchange bytes with no process of ours in
 * between, a zone that is not named back is refused, and the channel survives a driver upgrade, hangs up when one
 * side stops and comes back when it starts again. Each guest runs the shell command lines the test writes to its host
 * channel {@code ctl} (so the host channels of the same zones are exercised too); what they print is read back from
 * the console log. At most two guests run at once.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ZoneChannelsIT {
    private static final Path STATE = Containers.newStateDir("chan");
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final Duration GUEST = Duration.ofSeconds(60);
    /** Runs each line written to the host channel ctl, for as long as the zone runs (reopening it after a hang-up). */
    private static final String COMMAND_LOOP = "zk.run=\"while :; do while read -r l; do eval $l; done"
            + " </dev/virtio-ports/ctl; sleep 1; done\"";
    /** Each marker a guest prints is computed by its shell, so a command line shown anywhere never matches. */
    private static int marker = 1000;

    private final java.util.Map<String, SocketChannel> controls = new java.util.HashMap<>();

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm() };
    }

    @After
    public void destroyEverything() {
        new java.util.ArrayList<>(controls.keySet()).forEach(this::hangUp);
        for (ZoneInfo z : zones.list()) {
            Containers.run(shell, "zone:destroy " + z.name());
        }
        for (ZoneInfo z : zones.list()) {
            String p = z.runtime().get("pid");
            if (p != null) {
                ProcessHandle.of(Long.parseLong(p)).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private void create(String name, String peer) throws Exception {
        zones.create(ZoneSpec.builder(name).hypervisor("kvm").memoryMiB(128).cmdline(COMMAND_LOOP)
                .channel(new ChannelSpec("data", peer)).channel(ChannelSpec.toHost("ctl")).build());
    }

    /** cha and chb name channel data with each other as peer; cha's name sorts first, so its QEMU listens. */
    private void startPair() throws Exception {
        create("cha", "chb");
        create("chb", "cha");
        assertTrue(sh("zone:start cha").contains("RUNNING"));
        assertTrue(sh("zone:start chb").contains("RUNNING"));
        awaitShell("cha");
        awaitShell("chb");
    }

    private long pid(String zone) {
        ZoneInfo z = zones.get(zone).orElseThrow();
        assertEquals(zone + " " + z.reason(), ZoneState.RUNNING, z.state());
        return Long.parseLong(z.runtime().get("pid"));
    }

    /**
     * Has the zone's guest run a shell command line: writes it to the zone's host channel ctl. The connection stays
     * open, so that nothing written is dropped while the guest is busy with the previous line.
     */
    private void runInGuest(String zone, String line) throws IOException {
        SocketChannel ctl = controls.get(zone);
        if (ctl == null) {
            ctl = SocketChannel.open(UnixDomainSocketAddress.of(STATE.resolve("zones").resolve(zone)
                    .resolve("channels").resolve("ctl.sock")));
            controls.put(zone, ctl);
        }
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ctl.write(b);
        }
    }

    private void hangUp(String zone) {
        SocketChannel c = controls.remove(zone);
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // its QEMU is gone
            }
        }
    }

    private static int nextMarker() {
        return ++marker;
    }

    /** Waits for the pattern on the zone's console (it is what the guest printed); fails with the log's end. */
    private Matcher awaitConsole(String zone, Pattern p, Duration limit) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        String log = "";
        while (System.nanoTime() < deadline) {
            log = Files.readString(zones.consoleLog(zone), StandardCharsets.ISO_8859_1);
            Matcher m = p.matcher(log);
            if (m.find()) {
                return m;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("zone " + zone + " did not print /" + p + "/; its console ends with:\n"
                + log.substring(Math.max(0, log.length() - 3000)));
    }

    /** Waits until the zone init is ready and the guest runs what is written to ctl. */
    private void awaitShell(String zone) throws Exception {
        hangUp(zone); // the ctl connection of an earlier QEMU of this zone
        sh("zone:wait --timeout " + BOOT.toSeconds() + " --console 'zonekeeper: zone " + zone + " ready' " + zone);
        int m = nextMarker();
        long deadline = System.nanoTime() + GUEST.toNanos();
        while (true) {
            runInGuest(zone, "echo UP$((" + m + "+0))");
            try {
                awaitConsole(zone, Pattern.compile("UP" + m + "\\b"), Duration.ofSeconds(5));
                return;
            } catch (AssertionError notYet) {
                if (System.nanoTime() > deadline) {
                    throw notYet;
                }
            }
        }
    }

    /**
     * Sends {@code kib} KiB of random bytes from one zone's guest to the other's over channel data; returns the MD5
     * both guests computed, which must be the same.
     */
    private String send(String from, String to, int kib) throws Exception {
        int m = nextMarker();
        runInGuest(to, "echo \"RCV$((" + m + "+0)) $(head -c " + kib * 1024 + " /dev/virtio-ports/data | md5sum)\"");
        runInGuest(from, "dd if=/dev/urandom of=/tmp/p" + m + " bs=1024 count=" + kib + " 2>/dev/null; echo \"SND$(("
                + m + "+0)) $(md5sum </tmp/p" + m + ")\"; cat /tmp/p" + m + " >/dev/virtio-ports/data");
        String sent = awaitConsole(from, Pattern.compile("SND" + m + " ([0-9a-f]{32})"), GUEST).group(1);
        String got = awaitConsole(to, Pattern.compile("RCV" + m + " ([0-9a-f]{32})"), GUEST).group(1);
        assertEquals(kib + " KiB from " + from + " arrived in " + to + " unchanged", sent, got);
        return got;
    }

    private JsonObject channel(String name, String firstEnd) {
        JsonArray all = Json.createReader(new StringReader(sh("channel:list --json"))).readArray();
        for (int i = 0; i < all.size(); i++) {
            JsonObject c = all.getJsonObject(i);
            if (c.getString("name").equals(name) && c.getJsonArray("ends").getJsonObject(0).getString("zone")
                    .equals(firstEnd)) {
                return c;
            }
        }
        throw new AssertionError("no channel " + name + " from " + firstEnd + " in " + all);
    }

    private static long count(JsonObject end, String key) {
        return end.isNull(key) ? -1 : end.getJsonNumber(key).longValue();
    }

    /** Waits until both guests have reported these counts (they report every 2 s when they change). */
    private JsonObject awaitCounts(long aToB, long bToA) throws Exception {
        long deadline = System.nanoTime() + GUEST.toNanos();
        JsonObject c;
        while (true) {
            c = channel("data", "cha");
            JsonObject a = c.getJsonArray("ends").getJsonObject(0);
            JsonObject b = c.getJsonArray("ends").getJsonObject(1);
            if (count(a, "sent") == aToB && count(b, "received") == aToB && count(b, "sent") == bToA
                    && count(a, "received") == bToA) {
                return c;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the guests did not report " + aToB + " and " + bToA + " bytes: " + c);
            }
            Thread.sleep(500);
        }
    }

    @Test
    public void twoZonesThatNameEachOtherExchangeBytesAndAThirdCannotReachTheChannel() throws Exception {
        startPair();
        // A third zone names the channel with cha, another with chb; neither is named back.
        create("chc", "cha");
        create("chd", "chb");
        String refused = Containers.run(shell, "zone:start chc").error();
        assertTrue(refused, refused.contains("zone cha's channel data goes to zone chb, not to zone chc"));
        refused = Containers.run(shell, "zone:start chd").error();
        assertTrue(refused, refused.contains("zone chb's channel data goes to zone cha, not to zone chd"));
        for (String z : new String[] { "chc", "chd" }) {
            assertEquals(ZoneState.DEFINED, zones.get(z).orElseThrow().state());
            assertFalse("no QEMU was started for " + z, Files.exists(STATE.resolve("zones/" + z + "/qemu.pid")));
        }

        send("cha", "chb", 64);
        send("chb", "cha", 32);

        JsonObject data = awaitCounts(65536, 32768);
        assertEquals("both running", data.getString("state"));
        assertEquals("listens", data.getJsonArray("ends").getJsonObject(0).getString("role"));
        assertEquals("chb", data.getJsonArray("ends").getJsonObject(1).getString("zone"));
        String socket = data.getString("socket");
        assertTrue(socket, socket.startsWith(STATE.resolve("channels").toString() + "/"));
        assertTrue(zones.get("cha").orElseThrow().runtime().get("channel.data").startsWith("listens on " + socket));
        assertTrue(zones.get("chb").orElseThrow().runtime().get("channel.data").startsWith("connects to " + socket));
        String table = sh("channel:list");
        assertTrue(table, table.matches("(?s).*data\\s+cha\\s+chb\\s+both running\\s+65536\\s+32768\n.*"));
        // Both QEMUs are jailed, the connecting one (chb) too: each runs as its zone's own uid, not root.
        for (String z : new String[] { "cha", "chb" }) {
            String uid = zones.get(z).orElseThrow().runtime().get("jail.uid");
            assertTrue(z + " runs unjailed: " + zones.get(z).orElseThrow().runtime(), uid != null && !uid.equals("0"));
            assertEquals(z + "'s QEMU does not run as its zone's uid", "Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t"
                    + uid, Files.readAllLines(Path.of("/proc", String.valueOf(pid(z)), "status")).stream()
                            .filter(l -> l.startsWith("Uid:")).findFirst().orElse("no Uid line"));
        }
        assertTrue(table, table.matches("(?s).*data\\s+chc\\s+cha \\(not named back\\)\\s+not paired: .*"));
    }

    @Test
    public void theChannelSurvivesADriverUpgradeHangsUpWhenOneSideStopsAndReconnectsWhenItStarts()
            throws Exception {
        startPair();
        send("cha", "chb", 16);
        long[] pids = { pid("cha"), pid("chb") };

        String out = sh("driver:upgrade kvm " + Containers.testBuild("kvm-driver-next"));
        assertTrue(out, out.contains("adopted 2 zone(s)"));
        assertEquals("same QEMU after the upgrade", pids[0], pid("cha"));
        assertEquals("same QEMU after the upgrade", pids[1], pid("chb"));
        send("cha", "chb", 16);
        send("chb", "cha", 16);

        // chb's guest reads the port; when cha stops, its QEMU's end closes and chb's guest sees the hang-up. The
        // guest kernel says first that the reader has the port open and the other end is connected, so the reader
        // is known to be waiting on a live channel, not ending at once on a dead one.
        awaitHangUpWhenTheOtherStops("chb", "cha");
        assertTrue(channel("data", "cha").getString("state").startsWith("one side down (cha STOPPED"));

        // cha listens again on the same socket, and chb's QEMU, which never stopped, connects to it by itself.
        assertTrue(sh("zone:start cha").contains("RUNNING"));
        awaitShell("cha");
        assertEquals(pids[1], pid("chb"));
        send("chb", "cha", 16);
        send("cha", "chb", 16);
        assertEquals("both running", channel("data", "cha").getString("state"));

        // The other way round: cha (whose QEMU listens) reads, and chb, the connecting side, stops. cha's guest
        // sees the hang-up too, and chb's next QEMU connects again.
        awaitHangUpWhenTheOtherStops("cha", "chb");
        assertTrue(channel("data", "cha").getString("state").startsWith("one side down (chb STOPPED"));
        assertTrue(sh("zone:start chb").contains("RUNNING"));
        awaitShell("chb");
        send("cha", "chb", 16);
        send("chb", "cha", 16);
        assertEquals("both running", channel("data", "cha").getString("state"));
    }

    /**
     * Has READER's guest block reading the port (the guest kernel says first that it holds the port open and the
     * other end is connected), stops OTHER, and waits for the reader to see end-of-file.
     */
    private void awaitHangUpWhenTheOtherStops(String reader, String other) throws Exception {
        int m = nextMarker();
        runInGuest(reader, "(cat /dev/virtio-ports/data >/dev/null; echo \"HUP$((" + m + "+0)) $?\") & sleep 1; echo"
                + " \"OPEN$((" + m + "+0)) $(grep -h -A2 '^name: data$' /sys/kernel/debug/virtio-ports/vport*)\"");
        awaitConsole(reader, Pattern.compile("OPEN" + m + " name: data\\s+guest_connected: 1\\s+host_connected: 1"),
                GUEST);
        assertFalse("the reader still waits", Files.readString(zones.consoleLog(reader), StandardCharsets.ISO_8859_1)
                .contains("HUP" + m));
        assertTrue(sh("zone:stop " + other).contains("STOPPED"));
        awaitConsole(reader, Pattern.compile("HUP" + m + " 0"), GUEST);
    }
}

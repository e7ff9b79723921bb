package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.jail.ZoneJail;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * Both QEMUs of a zone-to-zone channel jailed: the connecting one runs as its own uid, chrooted into a root of its
 * own, connects to the listening one, and connects again, from inside its chroot, to the new socket the listening
 * zone makes when it starts anew. The other guest is paused while one boots, so one guest uses CPU at a time.
 */
public class ChannelJailBootTest {
    private static final Path STATE = Path.of("target", "kvm-channel-jail-state").toAbsolutePath();
    private final List<Path> dirs = new ArrayList<>();
    private KvmDriver driver;

    @BeforeClass
    public static void needsQemuKernelAndBusybox() {
        JailedBoots.needQemuAndBusybox();
        BootPrerequisites.need("the test runs as root (the jail needs it)", "root".equals(System.getProperty(
                "user.name")));
    }

    @After
    public void killEverythingStarted() throws IOException {
        JailedBoots.cleanUp(driver, dirs);
    }

    /** A zone with one channel to {@code peer}, as zone-core's broker would prepare it. */
    private TestZone zone(String name, String peer, Path socket, boolean listens) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        dirs.add(dir);
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder(name).channel(new ChannelSpec("pipe", peer))
                .build(), dir);
        z.resources = new PreparedResources(List.of(), List.of(), List.of(), List.of(new PreparedChannel("pipe", peer,
                socket.toString(), listens)));
        return z;
    }

    /** The state of the pipe's chardev in QEMU: its filename starts with "disconnected:" until it is connected. */
    private static String pipeState(QmpClient qmp) throws Exception {
        for (JsonValue v : qmp.executeValue("query-chardev", null, QmpClient.DEFAULT_TIMEOUT).asJsonArray()) {
            JsonObject c = v.asJsonObject();
            if (c.getString("label").equals("ch-pipe")) {
                return c.getString("filename");
            }
        }
        throw new AssertionError("no chardev ch-pipe");
    }

    private static String awaitPipe(QmpClient qmp, boolean connected) throws Exception {
        String state = "";
        for (int i = 0; i < 300; i++) {
            state = pipeState(qmp);
            if (state.startsWith("disconnected:") != connected) {
                return state;
            }
            Thread.sleep(100);
        }
        fail("the connecting QEMU's pipe never became " + (connected ? "connected" : "disconnected") + ": " + state);
        return state;
    }

    private static List<Integer> uids(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
            if (line.startsWith("Uid:")) {
                return Stream.of(line.substring(4).trim().split("\\s+")).map(Integer::valueOf).toList();
            }
        }
        throw new AssertionError("no Uid line for pid " + pid);
    }

    @Test
    public void theConnectingQemuRunsAsItsZonesUidInItsOwnRootAndReconnectsWhenThePeerRestarts() throws Exception {
        Path channels = Files.createTempDirectory(Path.of("/tmp"), "zk-ch-");
        dirs.add(channels);
        Files.setPosixFilePermissions(channels, PosixFilePermissions.fromString("rwx------"));
        Path socket = channels.resolve("pair.sock");
        driver = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        TestZone a = zone("cha", "chb", socket, true);
        TestZone b = zone("chb", "cha", socket, false);

        driver.start(a);
        JailedBoots.waitForConsole(a, "zonekeeper: zone cha ready");
        driver.pause(a);
        RuntimeRecord rb = driver.start(b);
        long pb = Long.parseLong(rb.get(RuntimeRecord.PID).orElseThrow());
        ZoneJail jb = ZoneJail.fromRecord(rb.properties()).orElseThrow(() -> new AssertionError(
                "the connecting zone got no jail: " + rb.properties()));
        int uid = jb.uid();
        assertNotEquals(0, uid);
        assertEquals(List.of(uid, uid, uid, uid), uids(pb));
        assertEquals(jb.root(), Files.readSymbolicLink(Path.of("/proc", String.valueOf(pb), "root")));
        assertTrue(jb.root() + " is not a root of the zone's own", jb.root().endsWith(b.id().toString()));
        try (Stream<Path> in = Files.list(jb.root())) {
            assertEquals("on the host the zone's root holds only its channel's empty folder",
                    List.of(jb.root().resolve("c0")), in.toList());
        }
        QmpClient qb = driver.qmpOf(b.id()).orElseThrow();
        awaitPipe(qb, true);

        // The listener starts anew, with a new socket in place of the one its old QEMU left; the jailed QEMU,
        // long past its chroot, finds it through its folder.
        driver.kill(a);
        String waiting = awaitPipe(qb, false);
        assertTrue("the jailed QEMU does not reconnect by its path inside the jail: " + waiting,
                waiting.endsWith("unix:c0/s"));
        Files.delete(rendezvousSocket(socket));
        driver.start(a);
        assertTrue(Files.exists(rendezvousSocket(socket)));
        awaitPipe(qb, true);
        assertEquals(List.of(uid, uid, uid, uid), uids(pb));
        driver.kill(a);
        driver.kill(b);
    }

    private static Path rendezvousSocket(Path brokerSocket) {
        return io.zonekeeper.kvm.qemu.Rendezvous.socket(new PreparedChannel("pipe", "x", brokerSocket.toString(),
                true));
    }
}

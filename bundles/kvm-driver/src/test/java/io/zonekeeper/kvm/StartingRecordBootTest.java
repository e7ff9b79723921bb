package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * A real guest whose appliance died between QEMU's launch and the full runtime record: only the starting record
 * (written before the launch) is left, and the next driver finds the guest by its pidfile plus the {@code -uuid}
 * on its command line, or by the uuid alone when the pidfile is gone too. Every QEMU started is killed by PID.
 */
public class StartingRecordBootTest {
    private static final Path STATE = Path.of("target", "kvm-state").toAbsolutePath();
    private final List<KvmDriver> drivers = new ArrayList<>();
    private final List<Long> guests = new ArrayList<>();
    private Path dir;
    /** The full record the first driver wrote, which the starting record stood for. */
    private RuntimeRecord full;

    @Before
    public void needsQemu() throws IOException {
        BootPrerequisites.need("qemu-system-x86_64 is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "qemu-system-x86_64"))));
        BootPrerequisites.need("busybox-static is installed", Files.isRegularFile(Path.of("/bin/busybox")));
        dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
    }

    @After
    public void killWhatWasStarted() throws IOException {
        drivers.forEach(KvmDriver::deactivate);
        for (long pid : guests) {
            ProcessHandle.of(pid).ifPresent(h -> {
                h.destroyForcibly();
                h.onExit().join();
            });
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private KvmDriver driver() {
        KvmDriver d = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        drivers.add(d);
        return d;
    }

    /** A guest started by one driver that then went away, leaving only what a kill -9 after the launch leaves. */
    private TestZone guestWithOnlyAStartingRecord() throws Exception {
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder("delta").build(), dir);
        KvmDriver first = driver();
        full = first.start(z);
        guests.add(Long.parseLong(full.get(RuntimeRecord.PID).orElseThrow()));
        first.deactivate();
        z.saveRuntime(StartingRecord.of(full, new ZoneFiles(dir)));
        assertTrue(StartingRecord.isStarting(z.runtime().orElseThrow()));
        return z;
    }

    @Test
    public void aGuestWithOnlyAStartingRecordIsAdoptedByItsPidfileAndUuid() throws Exception {
        TestZone z = guestWithOnlyAStartingRecord();
        long pid = guests.get(0);
        KvmDriver second = driver();
        assertEquals("observed as running before any adoption", ZoneState.RUNNING, second.observe(z));
        try {
            second.start(z);
            fail("a second QEMU was started beside the first");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(String.valueOf(pid)));
        }

        assertTrue("an impostor is refused", !second.adopt(z.withId(UUID.randomUUID())).adopted());
        Adoption a = second.adopt(z);
        assertTrue(a.reason(), a.adopted());
        assertEquals(ZoneState.RUNNING, a.state());
        assertEquals(Long.valueOf(pid), second.watchedPid(z.id()).orElseThrow());
        assertEquals("the adopting driver completes the record as the launch would have", full.properties(),
                z.runtime().orElseThrow().properties());

        second.stop(z, java.time.Duration.ofSeconds(10));
        assertFalse(ProcessHandle.of(pid).map(QemuProcess::running).orElse(false));
    }

    @Test
    public void withoutItsPidfileTheGuestIsFoundByItsUuidAlone() throws Exception {
        TestZone z = guestWithOnlyAStartingRecord();
        Files.delete(new ZoneFiles(dir).pidFile());
        KvmDriver second = driver();
        Adoption a = second.adopt(z);
        assertTrue(a.reason(), a.adopted());
        assertEquals(Long.valueOf(guests.get(0)), second.watchedPid(z.id()).orElseThrow());
    }

    @Test
    public void aStartingRecordWithNoGuestIsRefusedAndSaysSo() throws Exception {
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder("eps").build(), dir);
        z.saveRuntime(StartingRecord.of(z, new ZoneFiles(dir)));
        Adoption a = driver().adopt(z);
        assertFalse(a.adopted());
        assertTrue(a.reason(), a.reason().contains("was starting"));
    }
}

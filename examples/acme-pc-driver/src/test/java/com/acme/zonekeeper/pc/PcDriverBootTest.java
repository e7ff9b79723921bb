package com.acme.zonekeeper.pc;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.junit.After;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/** A real guest on the PC machine (TCG where there is no /dev/kvm), driven without a framework. */
public class PcDriverBootTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private final List<ProcessHandle> started = new ArrayList<>();
    private PcDriver driver;

    /** The part of zone-core a driver sees, in memory. */
    static final class Zone implements ZoneContext {
        final UUID id = UUID.randomUUID();
        final ZoneSpec spec;
        final Path dir;
        volatile RuntimeRecord runtime;
        final List<String> reports = new ArrayList<>();

        Zone(ZoneSpec spec, Path dir) {
            this.spec = spec;
            this.dir = dir;
        }

        @Override
        public UUID id() {
            return id;
        }

        @Override
        public String name() {
            return spec.name();
        }

        @Override
        public ZoneSpec spec() {
            return spec;
        }

        @Override
        public Path directory() {
            return dir;
        }

        @Override
        public Optional<RuntimeRecord> runtime() {
            return Optional.ofNullable(runtime);
        }

        @Override
        public void saveRuntime(RuntimeRecord record) {
            runtime = record;
        }

        @Override
        public synchronized void report(ZoneState state, String reason) {
            reports.add(state + " " + reason);
        }

        @Override
        public PreparedResources resources() {
            return PreparedResources.NONE;
        }
    }

    @After
    public void endEverything() {
        if (driver != null) {
            driver.deactivate();
        }
        started.forEach(ProcessHandle::destroyForcibly);
    }

    private static boolean canRun() {
        return Files.isRegularFile(Path.of("/bin/busybox")) && Files.isDirectory(Path.of("/boot"))
                && Path.of("/usr/bin/qemu-system-x86_64").toFile().canExecute();
    }

    private static void awaitConsole(Path log, String text) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!(Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(text))) {
            assertTrue("no '" + text + "' on the console", System.nanoTime() < deadline);
            Thread.sleep(100);
        }
    }

    @Test
    public void aZoneBootsIsAdoptedByANewInstanceAndStopsLeavingNoProcess() throws Exception {
        assumeTrue("needs qemu-system-x86, busybox-static and a kernel in /boot", canRun());
        driver = new PcDriver();
        driver.activate();
        Zone zone = new Zone(ZoneSpec.builder("pc1").memoryMiB(128).build(), tmp.newFolder("pc1").toPath());

        RuntimeRecord r = driver.start(zone);
        long pid = Long.parseLong(r.get(RuntimeRecord.PID).orElseThrow());
        ProcessHandle qemu = ProcessHandle.of(pid).orElseThrow();
        started.add(qemu);
        assertTrue(PcDriver.proves(qemu, zone.id));
        awaitConsole(zone.dir.resolve("console.log"), "acme-pc: zone pc1 ready");
        assertEquals(ZoneState.RUNNING, driver.observe(zone));

        // A new instance (the next revision of the bundle) adopts by proof; the old one only stops watching.
        driver.deactivate();
        driver = new PcDriver();
        driver.activate();
        Adoption a = driver.adopt(zone);
        assertTrue(a.reason(), a.adopted());
        assertTrue(qemu.isAlive());

        driver.stop(zone, Duration.ofSeconds(2));
        assertFalse(qemu.isAlive());
        assertEquals(ZoneState.STOPPED, driver.observe(zone));
        assertFalse(Files.exists(zone.dir.resolve("qmp.sock")));
        assertEquals("an asked-for stop is no crash", List.of(), zone.reports);
        assertFalse(driver.adopt(zone).adopted());
    }

    @Test
    public void aMissingKernelIsRefusedBeforeAnythingIsMade() throws Exception {
        driver = new PcDriver();
        driver.activate();
        Path dir = tmp.newFolder("nok").toPath();
        Zone zone = new Zone(ZoneSpec.builder("nok").kernel("/boot/no-such-vmlinuz").build(), dir);
        try {
            driver.start(zone);
            throw new AssertionError("started without a kernel");
        } catch (io.zonekeeper.spi.DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("kernel /boot/no-such-vmlinuz does not exist"));
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }
}

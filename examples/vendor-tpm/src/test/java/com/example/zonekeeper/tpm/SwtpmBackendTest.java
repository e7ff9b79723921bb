package com.example.zonekeeper.tpm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.spi.DeviceBackend.IndexedDevice;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;

/** The backend with a real swtpm: started per zone start, found again by another instance, stopped by proof. */
public class SwtpmBackendTest {
    private static final List<IndexedDevice> ONE_TPM = List.of(new IndexedDevice(0, DeviceSpec.of("tpm")));
    private Path root;
    private Path state;
    private Path zoneDir;
    private final List<Long> started = new ArrayList<>();
    private final List<Process> others = new ArrayList<>();

    @Before
    public void folders() throws IOException {
        // Under /tmp: the socket path must stay under 108 bytes.
        root = Files.createTempDirectory(Path.of("/tmp"), "zk-tpm-");
        state = Files.createDirectories(root.resolve("state"));
        zoneDir = Files.createDirectories(root.resolve("zones").resolve("web"));
    }

    @After
    public void killWhatWasStartedAndRemoveFolders() throws IOException {
        for (long pid : started) {
            ProcessHandle.of(pid).filter(h -> Swtpm.cmdline(pid).stream().findFirst().orElse("").endsWith("swtpm"))
                    .ifPresent(ProcessHandle::destroyForcibly);
        }
        others.forEach(Process::destroyForcibly);
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static void needsSwtpm() {
        Assume.assumeTrue("swtpm is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "swtpm"))));
    }

    private SwtpmBackend backend() {
        return new SwtpmBackend(state, "swtpm", "tpm-tis");
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private Set<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return new java.util.TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    public void validatesTheVersionAndOneTpmPerZone() {
        SwtpmBackend b = backend();
        assertEquals(List.of(), b.validate(ONE_TPM));
        assertEquals(List.of(), b.validate(List.of(new IndexedDevice(2, new DeviceSpec("tpm", "2.0")))));
        List<FieldError> errors = b.validate(List.of(new IndexedDevice(0, new DeviceSpec("tpm", "1.2")),
                new IndexedDevice(3, DeviceSpec.of("tpm"))));
        assertEquals(2, errors.size());
        assertEquals("devices[0].address", errors.get(0).field());
        assertTrue(errors.get(0).message(), errors.get(0).message().contains("say 2.0"));
        assertEquals("devices[3]", errors.get(1).field());
        assertTrue(errors.get(1).message().contains("at most one TPM"));
    }

    @Test
    public void startsOneSwtpmPerZoneStartAndHandsTheDriverItsSocket() throws Exception {
        needsSwtpm();
        SwtpmBackend b = backend();
        UUID id = UUID.randomUUID();

        List<PreparedDevice> got = b.prepare(id, "web", zoneDir, ONE_TPM);

        long pid = b.swtpmPid(id).orElseThrow();
        started.add(pid);
        assertEquals(1, got.size());
        PreparedDevice d = got.get(0);
        assertEquals("tpm", d.type());
        assertEquals("tpm0", d.id());
        assertEquals(zoneDir.resolve("tpm.sock").toString(), d.attribute("socket"));
        assertEquals("tpm-tis", d.attribute("model"));
        assertEquals("2.0", d.attribute("version"));
        assertEquals(Set.of(PlatformNeed.FIRMWARE_ACPI), d.needs());
        assertTrue(alive(pid));
        assertTrue(Swtpm.isSwtpmOf(pid, zoneDir.resolve("tpm.sock")));
        assertTrue("the socket only its owner may use", Files.getPosixFilePermissions(zoneDir.resolve("tpm.sock"))
                .equals(PosixFilePermissions.fromString("rw-------")));
        assertFalse("in a session of its own, so that it outlives the JVM",
                sessionOf(pid) == sessionOf(ProcessHandle.current().pid()));
        assertTrue(Files.isRegularFile(state.resolve("devices/tpm/" + id + ".properties")));

        b.release(id, "web");

        assertFalse(alive(pid));
        assertFalse(Files.exists(zoneDir.resolve("tpm.sock")));
        assertFalse(Files.exists(state.resolve("devices/tpm/" + id + ".properties")));
        assertTrue("the TPM's state stays in the zone's folder", Files.isDirectory(zoneDir.resolve("tpm")));
        b.release(id, "web"); // idempotent
    }

    /** The session id of a process, from /proc/PID/stat (field 6). */
    private static long sessionOf(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[3]);
    }

    @Test
    public void aNewInstanceOfTheBundleFindsAndStopsWhatTheOldOneStarted() throws Exception {
        needsSwtpm();
        UUID id = UUID.randomUUID();
        backend().prepare(id, "web", zoneDir, ONE_TPM);
        SwtpmBackend upgraded = backend();
        long pid = upgraded.swtpmPid(id).orElseThrow();
        started.add(pid);
        assertTrue("an upgrade leaves it running", alive(pid));

        assertEquals(List.of(), upgraded.orphans(Set.of(id)));
        List<String> orphans = upgraded.orphans(Set.of());
        assertEquals(1, orphans.size());
        assertTrue(orphans.get(0), orphans.get(0).contains("zone web (" + id + ") does not run, but its swtpm pid "
                + pid + " still does"));
        assertTrue("orphans only reports", alive(pid));

        upgraded.release(id, "web");
        assertFalse(alive(pid));
        assertEquals(List.of(), upgraded.orphans(Set.of()));
    }

    @Test
    public void preparingAgainReplacesTheEarlierSwtpmAndKeepsTheTpmState() throws Exception {
        needsSwtpm();
        SwtpmBackend b = backend();
        UUID id = UUID.randomUUID();
        b.prepare(id, "web", zoneDir, ONE_TPM);
        long first = b.swtpmPid(id).orElseThrow();
        started.add(first);
        // A TPM that was used once has written its state (swtpm writes it when the TPM is initialised).
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (files(zoneDir.resolve("tpm")).stream().noneMatch(f -> f.startsWith("tpm2-")) && System.nanoTime()
                < deadline) {
            Thread.sleep(20);
        }

        b.prepare(id, "web", zoneDir, ONE_TPM);

        long second = b.swtpmPid(id).orElseThrow();
        started.add(second);
        assertFalse("the earlier swtpm was ended first (it would hold the state's lock)", alive(first));
        assertTrue(alive(second));
        assertEquals(zoneDir.resolve("tpm"), Path.of(Swtpm.cmdline(second).stream()
                .filter(a -> a.startsWith("dir=")).findFirst().orElseThrow().substring(4).split(",")[0]));
        b.release(id, "web");
    }

    @Test
    public void aPidThatIsNoLongerSwtpmIsNeverSignalled() throws Exception {
        UUID id = UUID.randomUUID();
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        others.add(sleeper);
        new TpmRecords(state.resolve("devices/tpm")).write(new TpmRecords.TpmRecord(id, "web", sleeper.pid(),
                zoneDir.resolve("tpm.sock"), zoneDir.resolve("tpm"), Instant.now()));
        SwtpmBackend b = backend();

        assertTrue(b.orphans(Set.of()).get(0).contains("the swtpm has ended"));
        b.release(id, "web");

        assertTrue("a reused pid is left alone", sleeper.isAlive());
        assertEquals(List.of(), b.orphans(Set.of()));
    }

    @Test
    public void aSwtpmThatCannotStartLeavesNothingAndSaysWhy() throws Exception {
        UUID id = UUID.randomUUID();
        SwtpmBackend missing = new SwtpmBackend(state, "/nonexistent/swtpm", "tpm-tis");
        try {
            missing.prepare(id, "web", zoneDir, ONE_TPM);
            fail();
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("devices[0]: the TPM emulator did not start"));
            assertTrue(e.getMessage(), e.getMessage().contains("install the swtpm package"));
        }
        // A swtpm that refuses to start (here a stand-in that says why and exits 1): its words reach the operator.
        Path fake = root.resolve("bin/swtpm");
        Files.createDirectories(fake.getParent());
        Files.writeString(fake, "#!/bin/sh\necho 'swtpm: cannot lock the TPM state' >&2\nexit 1\n");
        fake.toFile().setExecutable(true);
        try {
            new SwtpmBackend(state, fake.toString(), "tpm-tis").prepare(id, "web", zoneDir, ONE_TPM);
            fail();
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("swtpm exited with code 1"));
            assertTrue(e.getMessage(), e.getMessage().contains("swtpm: cannot lock the TPM state"));
        }
        assertEquals("nothing of the attempts is left but the log and the TPM state folder",
                Set.of("swtpm.log", "tpm"), files(zoneDir));
        assertEquals(List.of(), backend().orphans(Set.of()));
        assertFalse(Files.exists(state.resolve("devices/tpm/" + id + ".properties")));
    }
}

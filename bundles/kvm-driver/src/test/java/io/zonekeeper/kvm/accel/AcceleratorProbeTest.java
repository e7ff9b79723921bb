package io.zonekeeper.kvm.accel;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.stream.Stream;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class AcceleratorProbeTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path cacheDir;
    private Path kernel;
    private Path initramfs;
    private FakeHost host;
    private AcceleratorProbe probe;

    /** A host whose self-test, probe boot, boot id and QEMU version the test sets, counting what was asked. */
    static final class FakeHost implements AcceleratorProbe.Host {
        KvmIoctlSelfTest.Outcome selfTest = KvmIoctlSelfTest.Outcome.PASSED;
        boolean reachesInit = true;
        String bootId = "boot-1";
        String qemuVersion = "QEMU emulator version 7.2.22";
        int selfTests;
        int probeBoots;

        @Override
        public KvmIoctlSelfTest.Result ioctlSelfTest() {
            selfTests++;
            return switch (selfTest) {
                case NO_DEVICE -> new KvmIoctlSelfTest.Result(selfTest,
                        "cannot open /dev/kvm: ENOENT (No such file or directory)",
                        Map.of("open /dev/kvm", "failed 0.01 ms: ENOENT (No such file or directory)"));
                case FAILED -> new KvmIoctlSelfTest.Result(selfTest,
                        "KVM ioctl self-test failed at KVM_RUN hlt: KVM_EXIT_SHUTDOWN, expected KVM_EXIT_HLT",
                        Map.of("KVM_RUN hlt", "failed 0.02 ms: KVM_EXIT_SHUTDOWN, expected KVM_EXIT_HLT"));
                case PASSED -> new KvmIoctlSelfTest.Result(selfTest, "KVM ioctl self-test passed",
                        Map.of("KVM_RUN hlt", "ok 0.02 ms: KVM_EXIT_HLT"));
            };
        }

        @Override
        public ProbeBoot.Result probeBoot(Path kernel, Path probeInitramfs, String probeMarker) {
            probeBoots++;
            return reachesInit
                    ? new ProbeBoot.Result(true, "probe boot reached init under KVM in 412.00 ms (-cpu host)",
                            Map.of("probe boot -cpu host", "ok 412.00 ms: marker after 412.00 ms"))
                    : new ProbeBoot.Result(false,
                            "probe boot under KVM failed (-cpu qemu64): no init marker within 5000 ms",
                            Map.of("probe boot -cpu qemu64", "failed 5000.00 ms: no init marker within 5000 ms"));
        }

        @Override
        public String bootId() {
            return bootId;
        }

        @Override
        public String qemuVersion() {
            return qemuVersion;
        }
    }

    @Before
    public void setUp() throws IOException {
        cacheDir = tmp.newFolder("cache").toPath();
        kernel = Files.writeString(tmp.getRoot().toPath().resolve("vmlinuz"), "kernel v1");
        initramfs = Files.writeString(tmp.getRoot().toPath().resolve("probe.cpio"), "cpio");
        host = new FakeHost();
        probe = new AcceleratorProbe(cacheDir, host, Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC));
    }

    private AccelVerdict decide() {
        return probe.decide("auto", kernel, initramfs, "ZK-PROBE-OK");
    }

    @Test
    public void forcedTcgSkipsEveryTestAndSaysSo() {
        AccelVerdict v = probe.decide("tcg", kernel, initramfs, "ZK-PROBE-OK");
        assertEquals("tcg", v.accel());
        assertEquals("forced by config accel=tcg", v.reason());
        assertEquals(0, host.selfTests + host.probeBoots);
        assertTrue(isEmpty(cacheDir));
    }

    @Test
    public void forcedKvmSkipsEveryTestEvenWithoutDevKvm() {
        host.selfTest = KvmIoctlSelfTest.Outcome.NO_DEVICE;
        AccelVerdict v = probe.decide(" KVM ", null, null, null);
        assertEquals("kvm", v.accel());
        assertEquals("forced by config accel=kvm", v.reason());
        assertEquals(0, host.selfTests + host.probeBoots);
    }

    @Test(expected = IllegalArgumentException.class)
    public void anUnknownOverrideIsRefused() {
        probe.decide("hvf", kernel, initramfs, "ZK-PROBE-OK");
    }

    @Test
    public void blankOverrideMeansAuto() {
        assertEquals("kvm", probe.decide("", kernel, initramfs, "M").accel());
        assertEquals(1, host.probeBoots);
    }

    @Test
    public void missingDevKvmGivesTcgWithoutAProbeBootAndIsNotCached() {
        host.selfTest = KvmIoctlSelfTest.Outcome.NO_DEVICE;
        AccelVerdict v = decide();
        assertEquals("tcg", v.accel());
        assertEquals("cannot open /dev/kvm: ENOENT (No such file or directory)", v.reason());
        assertEquals(0, host.probeBoots);
        assertTrue(isEmpty(cacheDir));

        decide();
        assertEquals("asked again: loading kvm should not need a reboot", 2, host.selfTests);
    }

    @Test
    public void aFailedIoctlSelfTestGivesTcgWithoutAProbeBoot() {
        host.selfTest = KvmIoctlSelfTest.Outcome.FAILED;
        AccelVerdict v = decide();
        assertEquals("tcg", v.accel());
        assertTrue(v.reason(), v.reason().contains("KVM_EXIT_SHUTDOWN"));
        assertEquals(0, host.probeBoots);
    }

    @Test
    public void aProbeBootThatReachesInitGivesKvmAndTheSecondDecisionComesFromTheCache() {
        AccelVerdict first = decide();
        assertEquals("kvm", first.accel());
        assertEquals("miss: no cached verdict", first.steps().get("cache"));
        assertTrue(first.steps().get("cache store"), first.steps().get("cache store").startsWith("ok "));

        AccelVerdict second = decide();
        assertEquals(1, host.selfTests);
        assertEquals(1, host.probeBoots);
        assertEquals("kvm", second.accel());
        assertEquals(first.reason(), second.reason());
        assertEquals("hit: decided 2025-01-02T03:04:05Z", second.steps().get("cache"));
        assertEquals(first.steps().get("probe boot -cpu host"), second.steps().get("probe boot -cpu host"));
    }

    @Test
    public void aProbeBootThatFailsGivesTcgAndThatIsCachedToo() {
        host.reachesInit = false;
        AccelVerdict v = decide();
        assertEquals("tcg", v.accel());
        assertTrue(v.reason(), v.reason().startsWith("probe boot under KVM failed"));
        assertEquals("tcg", decide().accel());
        assertEquals(1, host.probeBoots);
    }

    @Test
    public void aNewHostBootInvalidatesTheCache() {
        decide();
        host.bootId = "boot-2";
        host.reachesInit = false;
        AccelVerdict v = decide();
        assertEquals("tcg", v.accel());
        assertEquals("miss: boot_id changed", v.steps().get("cache"));
        assertEquals(2, host.probeBoots);
    }

    @Test
    public void aChangedKernelInvalidatesTheCache() throws IOException {
        decide();
        Files.setLastModifiedTime(kernel, FileTime.from(Instant.parse("2030-01-01T00:00:00Z")));
        assertEquals("miss: kernel mtime changed", decide().steps().get("cache"));
        Files.writeString(kernel, "kernel v2, longer");
        Files.setLastModifiedTime(kernel, FileTime.from(Instant.parse("2030-01-01T00:00:00Z")));
        assertEquals("miss: kernel size changed", decide().steps().get("cache"));
        assertEquals(3, host.probeBoots);
    }

    @Test
    public void aNewQemuInvalidatesTheCache() {
        decide();
        host.qemuVersion = "QEMU emulator version 8.2.0";
        assertEquals("miss: qemu version changed", decide().steps().get("cache"));
        assertEquals(2, host.probeBoots);
    }

    @Test
    public void eachKernelHasItsOwnEntry() throws IOException {
        Path other = Files.writeString(tmp.getRoot().toPath().resolve("vmlinuz-other"), "other");
        decide();
        host.reachesInit = false;
        assertEquals("tcg", probe.decide("auto", other, initramfs, "M").accel());
        assertEquals("kvm", decide().accel());
        assertEquals(2, host.probeBoots);
    }

    @Test
    public void aCorruptCacheFileIsAMissAndIsRewritten() throws IOException {
        decide();
        Path file = onlyFile(cacheDir);
        Files.writeString(file, "{\"format\":1,\"key\":");
        AccelVerdict v = decide();
        assertTrue(v.steps().get("cache"), v.steps().get("cache").startsWith("miss: unreadable"));
        assertEquals(2, host.probeBoots);
        assertEquals("hit: decided 2025-01-02T03:04:05Z", decide().steps().get("cache"));
    }

    @Test
    public void aTamperedAccelInTheCacheIsAMiss() throws IOException {
        decide();
        Path file = onlyFile(cacheDir);
        Files.writeString(file, Files.readString(file).replace("\"accel\":\"kvm\"", "\"accel\":\"xen\""));
        assertTrue(decide().steps().get("cache").startsWith("miss: malformed"));
    }

    @Test
    public void theCacheFileIsJsonWithTheWholeKeyAndNoTempFilesRemain() throws IOException {
        decide();
        Path file = onlyFile(cacheDir);
        JsonObject root;
        try (InputStream in = Files.newInputStream(file); JsonReader r = Json.createReader(in)) {
            root = r.readObject();
        }
        JsonObject key = root.getJsonObject("key");
        assertEquals("boot-1", key.getString("bootId"));
        assertEquals(kernel.toAbsolutePath().toString(), key.getString("kernelPath"));
        assertEquals(Files.size(kernel), key.getJsonNumber("kernelSize").longValue());
        assertEquals(Files.getLastModifiedTime(kernel).toMillis(), key.getJsonNumber("kernelMtimeMillis").longValue());
        assertEquals("QEMU emulator version 7.2.22", key.getString("qemuVersion"));
        assertEquals("kvm", root.getJsonObject("verdict").getString("accel"));
        assertFalse(file.getFileName().toString().endsWith(".tmp"));
    }

    @Test
    public void aMissingKernelTurnsTheCacheOffButStillDecides() {
        host.reachesInit = false;
        AccelVerdict v = probe.decide("auto", tmp.getRoot().toPath().resolve("no-such-kernel"), initramfs, "M");
        assertEquals("tcg", v.accel());
        assertTrue(v.steps().get("cache"), v.steps().get("cache").startsWith("off: cannot build the cache key"));
        assertTrue(isEmpty(cacheDir));
    }

    private static Path onlyFile(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            var all = files.toList();
            assertEquals(all.toString(), 1, all.size());
            return all.get(0);
        }
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.findAny().isEmpty();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}

package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.Assume;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.qemu.Machine;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * Real boots of each machine a zone can get (microvm with PVH, q35 with PVH, q35 through SeaBIOS), under TCG: each
 * reaches its ready marker and powers off by its power button; a q35 zone keeps its channel, disk, console, QMP and
 * adoption; a zone with a TPM (a swtpm this test starts) sees /dev/tpm0 and gets answers from it. The boot times are
 * printed, not asserted. Every process a test starts is killed by PID afterwards.
 */
public class MachineBootTest {
    private static final Path STATE = Path.of("target", "kvm-state").toAbsolutePath();
    private final List<Path> dirs = new ArrayList<>();
    private final List<KvmDriver> drivers = new ArrayList<>();
    private final List<Long> swtpms = new ArrayList<>();

    @BeforeClass
    public static void needsQemuKernelAndBusybox() throws IOException {
        BootPrerequisites.need("qemu-system-x86_64 is installed", onPath("qemu-system-x86_64"));
        try (Stream<Path> boot = Files.list(Path.of("/boot"))) {
            BootPrerequisites.need("a /boot/vmlinuz-* exists", boot.anyMatch(p -> p.getFileName().toString()
                    .startsWith("vmlinuz-")));
        }
        BootPrerequisites.need("busybox-static is installed", Files.isRegularFile(Path.of("/bin/busybox")));
    }

    private static boolean onPath(String tool) {
        return Stream.of(System.getenv("PATH").split(":")).anyMatch(d -> Files.isExecutable(Path.of(d, tool)));
    }

    @After
    public void killEverythingStarted() throws IOException {
        drivers.forEach(KvmDriver::deactivate);
        OurQemus.kill();
        for (long pid : swtpms) {
            ProcessHandle.of(pid).filter(h -> QemuProcess.cmdline(pid).stream().findFirst().orElse("")
                    .contains("swtpm")).ifPresent(ProcessHandle::destroyForcibly);
        }
        for (Path d : dirs) {
            try (Stream<Path> walk = Files.walk(d)) {
                walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private KvmDriver driver(Machine least) {
        KvmDriver d = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null, least));
        drivers.add(d);
        return d;
    }

    private TestZone zone(ZoneSpec spec) throws IOException {
        // In /tmp: socket paths must stay under 108 bytes.
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        dirs.add(dir);
        return new TestZone(UUID.randomUUID(), spec, dir);
    }

    private static String waitForConsole(TestZone z, String text, int seconds) throws Exception {
        Path log = z.directory().resolve("console.log");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String s = "";
        while (System.nanoTime() < deadline) {
            s = Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
            if (s.contains(text)) {
                return s;
            }
            Thread.sleep(20);
        }
        fail("console never showed '" + text + "' within " + seconds + " s; it has:\n" + s);
        return s;
    }

    private static long pidOf(RuntimeRecord r) {
        return Long.parseLong(r.get(RuntimeRecord.PID).orElseThrow());
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(QemuProcess::running).orElse(false);
    }

    /** Starts a swtpm for a zone as a device backend would, and the device it prepares. */
    private PreparedDevice swtpm(TestZone z) throws Exception {
        Assume.assumeTrue("swtpm is installed", onPath("swtpm"));
        Path dir = z.directory();
        Files.createDirectories(dir.resolve("tpm"));
        Path socket = dir.resolve("tpm.sock");
        Process p = new ProcessBuilder("swtpm", "socket", "--tpm2", "--ctrl", "type=unixio,path=" + socket
                + ",mode=0600", "--tpmstate", "dir=" + dir.resolve("tpm"), "--pid", "file=" + dir.resolve("swtpm.pid"),
                "--log", "file=" + dir.resolve("swtpm.log"), "--daemon").redirectErrorStream(true)
                .redirectOutput(dir.resolve("swtpm.out").toFile()).start();
        assertTrue("swtpm daemonized", p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0);
        long pid = Long.parseLong(Files.readString(dir.resolve("swtpm.pid")).trim());
        swtpms.add(pid);
        return new PreparedDevice("tpm", "tpm0", Map.of("socket", socket.toString(), "model", "tpm-tis",
                "version", "2.0"), Set.of(PlatformNeed.FIRMWARE_ACPI));
    }

    @Test
    public void eachMachineBootsToItsMarkerAndPowersOffByItsButton() throws Exception {
        // Builds (or finds) the cached vmlinux and zone image first, so that no boot below pays for it.
        io.zonekeeper.kvm.image.ZoneImages.forHost(STATE.resolve("cache").resolve("kvm")).image(null, null);
        Map<Machine, Long> bootMs = new LinkedHashMap<>();
        for (Machine m : Machine.values()) {
            KvmDriver kvm = driver(m);
            String name = "boot-" + m.id();
            TestZone z = zone(ZoneSpec.builder(name).memoryMiB(128).build());

            long t0 = System.nanoTime();
            RuntimeRecord r = kvm.start(z);
            waitForConsole(z, "zonekeeper: zone " + name + " ready", 120);
            bootMs.put(m, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));

            assertEquals(m.id(), r.get(KvmDriver.R_MACHINE).orElseThrow());
            List<String> argv = QemuProcess.cmdline(pidOf(r));
            assertTrue(argv.toString(), argv.get(argv.indexOf("-M") + 1).startsWith(m.pci() ? "q35" : "microvm"));
            kvm.stop(z, Duration.ofSeconds(30));
            assertFalse(alive(pidOf(r)));
            String console = Files.readString(z.directory().resolve("console.log"), StandardCharsets.ISO_8859_1);
            assertTrue("the power button was honoured on " + m.id() + "; console:\n" + console,
                    console.contains("zone " + name + " powering off"));
        }
        StringBuilder line = new StringBuilder("machine boot (start to ready marker, TCG, one run each, load "
                + loadAverage() + "):");
        bootMs.forEach((m, ms) -> line.append(String.format(" %s %.2f s;", m.id(), ms / 1000.0)));
        System.out.println(line);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }

    @Test
    public void aQ35ZoneKeepsItsChannelDiskConsoleAndIsAdoptedByAnotherDriver() throws Exception {
        KvmDriver first = driver(Machine.Q35_PVH);
        TestZone z = zone(ZoneSpec.builder("q35").channel(ChannelSpec.toHost("data"))
                .disk(new DiskSpec("/unused/data.img", "raw", true)).build());
        Path content = Files.createDirectories(z.directory().resolve("content"));
        Files.writeString(content.resolve("hello.txt"), "hello from a q35 disk\n");
        Path img = z.directory().resolve("data.img");
        Process mk = new ProcessBuilder("mke2fs", "-q", "-t", "ext4", "-d", content.toString(), img.toString(), "8M")
                .redirectErrorStream(true).start();
        Assume.assumeTrue("mke2fs made an image", mk.waitFor(30, TimeUnit.SECONDS) && mk.exitValue() == 0);
        z.resources = new PreparedResources(List.of(), List.of(new PreparedDisk("data", img.toString(), "raw", true)));

        RuntimeRecord r = first.start(z);
        long pid = pidOf(r);
        waitForConsole(z, "zonekeeper: zone q35 ready", 120);
        assertEquals("q35-pvh", r.get(KvmDriver.R_MACHINE).orElseThrow());
        assertEquals("configured machine=q35-pvh", r.get(KvmDriver.R_MACHINE_REASON).orElseThrow());

        first.deactivate();
        KvmDriver second = driver(Machine.MICROVM_PVH);
        Adoption adopted = second.adopt(z);
        assertTrue(adopted.reason(), adopted.adopted());
        assertEquals(Long.valueOf(pid), second.watchedPid(z.id()).orElseThrow());
        second.pause(z);
        second.resume(z);

        Path sock = z.directory().resolve("channels/data.sock");
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock));
                ByteChannel console = second.attachConsole(z)) {
            console.write(ByteBuffer.wrap("cat /mnt/data/hello.txt > /dev/virtio-ports/data\n"
                    .getBytes(StandardCharsets.US_ASCII)));
            StringBuilder got = new StringBuilder();
            ByteBuffer buf = ByteBuffer.allocate(256);
            while (!got.toString().contains("\n") && ch.read(buf.clear()) > 0) {
                got.append(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
            }
            assertEquals("hello from a q35 disk\n", got.toString());
        }

        second.stop(z, Duration.ofSeconds(30));
        assertFalse(alive(pid));
        waitForConsole(z, "zonekeeper: zone q35 powering off", 1);
    }

    @Test
    public void aZoneWithATpmBootsThroughFirmwareAndItsGuestTalksToTheTpm() throws Exception {
        KvmDriver kvm = driver(Machine.MICROVM_PVH);
        TestZone z = zone(ZoneSpec.builder("tpm").device(DeviceSpec.of("tpm")).cmdline("zk.run=\"exec 3<>/dev/tpm0;"
                + " printf '\\200\\001\\000\\000\\000\\014\\000\\000\\001\\173\\000\\010' >&3;"
                + " echo tpm-answer: $(dd bs=64 count=1 <&3 2>/dev/null | od -An -tx1)\"").build());
        PreparedDevice tpm = swtpm(z);
        long swtpmPid = swtpms.get(swtpms.size() - 1);
        z.resources = new PreparedResources(List.of(), List.of(), List.of(tpm), List.of());

        long t0 = System.nanoTime();
        RuntimeRecord r = kvm.start(z);
        String console = waitForConsole(z, "zonekeeper: zone tpm finished", 180);
        long runMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertEquals("q35-firmware", r.get(KvmDriver.R_MACHINE).orElseThrow());
        assertEquals("tpm0 (tpm) needs FIRMWARE_ACPI", r.get(KvmDriver.R_MACHINE_REASON).orElseThrow());
        assertTrue(r.get("device.0").orElseThrow(), r.get("device.0").orElseThrow().startsWith("tpm tpm0 tpm-tis"));
        assertTrue(console, console.contains("zonekeeper: tpm /dev/tpm0 version 2"));
        // TPM2_GetRandom of 8 bytes: success (rc 0) and 8 bytes back.
        assertTrue(console, console.contains("tpm-answer: 80 01 00 00 00 14 00 00 00 00 00 08 "));
        System.out.printf("tpm zone: start to its command's answer and power-off %.2f s (q35-firmware, TCG)%n",
                runMs / 1000.0);
        // The guest powered off; QEMU told swtpm to shut down as it exited.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((alive(pidOf(r)) || alive(swtpmPid)) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertFalse("QEMU ended", alive(pidOf(r)));
        assertFalse("swtpm ends with its QEMU", alive(swtpmPid));
    }
}

package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.Before;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * Boots real guests: the host's Debian kernel and a busybox zone image under TCG, through KvmDriver used as a
 * plain object. Every QEMU a test starts is killed by PID afterwards.
 */
public class KvmDriverBootTest {
    private static final Path STATE = Path.of("target", "kvm-state").toAbsolutePath();
    private final List<Path> dirs = new ArrayList<>();
    private final List<KvmDriver> drivers = new ArrayList<>();

    @BeforeClass
    public static void needsQemuKernelAndBusybox() throws IOException {
        BootPrerequisites.need("qemu-system-x86_64 is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "qemu-system-x86_64"))));
        try (Stream<Path> boot = Files.list(Path.of("/boot"))) {
            BootPrerequisites.need("a /boot/vmlinuz-* exists", boot.anyMatch(p -> p.getFileName().toString()
                    .startsWith("vmlinuz-")));
        }
        BootPrerequisites.need("busybox-static is installed", Files.isRegularFile(Path.of("/bin/busybox")));
    }

    @Before
    public void noQemuLeftFromBefore() {
        killOurQemus();
    }

    @After
    public void killEverythingStarted() throws IOException {
        for (KvmDriver d : drivers) {
            d.deactivate();
        }
        killOurQemus();
        for (Path d : dirs) {
            if (Files.exists(d)) {
                try (Stream<Path> walk = Files.walk(d)) {
                    walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    /** Kills, by PID, every QEMU this JVM started. */
    private static void killOurQemus() {
        OurQemus.kill();
    }

    private static long liveQemuChildren() {
        return OurQemus.live().size();
    }

    private KvmDriver driver() {
        return driver("tcg");
    }

    private KvmDriver driver(String accel) {
        KvmDriver d = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", accel, null));
        drivers.add(d);
        return d;
    }

    private TestZone zone(ZoneSpec spec) throws IOException {
        // Zone folders live in /tmp: socket paths must stay under 108 bytes.
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        dirs.add(dir);
        return new TestZone(UUID.randomUUID(), spec, dir);
    }

    private static String waitForConsole(TestZone z, String text, int seconds) throws Exception {
        Path log = z.directory().resolve("console.log");
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        String s = "";
        while (System.nanoTime() < deadline) {
            s = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (s.contains(text)) {
                return s;
            }
            Thread.sleep(50);
        }
        fail("console never showed '" + text + "' within " + seconds + " s; it has:\n" + s);
        return s;
    }

    private static long pidOf(RuntimeRecord r) {
        return Long.parseLong(r.get(RuntimeRecord.PID).orElseThrow());
    }

    private static Set<String> filesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    @Test
    public void zoneBootsToReadyMarkerAndStopsGracefullyLeavingOnlyItsConsoleLog() throws Exception {
        KvmDriver kvm = driver("auto");
        TestZone z = zone(ZoneSpec.builder("alpha").build());

        RuntimeRecord r = kvm.start(z);

        long pid = pidOf(r);
        assertEquals(r, z.runtime().orElseThrow());
        assertTrue(QemuProcess.isQemuOf(pid, z.id()));
        assertEquals(ZoneState.RUNNING, kvm.observe(z));
        String accel = r.get(KvmDriver.R_ACCEL).orElseThrow();
        assertTrue(accel, Set.of("kvm", "tcg").contains(accel));
        String phases = r.get(KvmDriver.R_START_PHASES).orElseThrow();
        assertTrue(phases, phases.matches("scan \\d+, plan \\d+, jail \\d+, record \\d+, launch \\d+, qmp \\d+"));
        assertTrue(Files.exists(z.directory().resolve("qmp.sock")));
        waitForConsole(z, "zonekeeper: zone alpha ready", 30);
        var details = kvm.capabilities().details();
        assertEquals("the probe's verdict is what the zone got", accel, details.get("accel"));
        assertFalse(details.get("accel.reason").isBlank());
        assertTrue(details.get("qemu"), details.get("qemu").contains("QEMU"));
        System.out.println("alpha: accel " + accel + " because " + details.get("accel.reason"));

        long t0 = System.nanoTime();
        kvm.stop(z, Duration.ofSeconds(15));
        long stopMs = (System.nanoTime() - t0) / 1_000_000;

        assertFalse("QEMU pid " + pid + " is gone", ProcessHandle.of(pid).map(QemuProcess::running).orElse(false));
        String console = Files.readString(z.directory().resolve("console.log"));
        assertTrue("the power button was honoured, not the fallback (" + stopMs + " ms); console:\n" + console,
                console.contains("zonekeeper: zone alpha powering off"));
        assertEquals(ZoneState.STOPPED, kvm.observe(z));
        Set<String> left = filesIn(z.directory());
        assertTrue(left.toString(), left.contains("console.log"));
        assertFalse(left.toString(), left.contains("qmp.sock") || left.contains("console.sock")
                || left.contains("qemu.pid"));
        assertEquals("an asked stop is no news to report", null, z.nextReport(0));
        System.out.println("alpha: graceful stop took " + stopMs + " ms");
    }

    @Test
    public void channelCarriesGuestBytesToHostSocketAndGuestPowerOffIsReportedStopped() throws Exception {
        KvmDriver kvm = driver();
        TestZone z = zone(ZoneSpec.builder("beta").channel(ChannelSpec.toHost("data"))
                .cmdline("zk.run=\"for i in 1 2 3 4 5 6 7 8 9 10; do echo hello-from-guest-$i; sleep 0.2; done"
                        + " > /dev/virtio-ports/data\"").build());

        RuntimeRecord r = kvm.start(z);

        Path sock = z.directory().resolve("channels/data.sock");
        StringBuilder got = new StringBuilder();
        TestZone.Report report;
        // The host end stays connected until the guest is done: a virtio port with nobody reading blocks its writer.
        // Non-blocking with a selector: a guest that stalls must fail this test at the deadline, not hang the build.
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock));
                Selector selector = Selector.open()) {
            ch.configureBlocking(false);
            ch.register(selector, SelectionKey.OP_READ);
            ByteBuffer buf = ByteBuffer.allocate(4096);
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!got.toString().contains("hello-from-guest-10\n") && System.nanoTime() < deadline) {
                long leftMs = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                selector.select(leftMs);
                selector.selectedKeys().clear();
                buf.clear();
                if (ch.read(buf) < 0) {
                    break;
                }
                got.append(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
            }
            assertTrue("channel bytes: " + got + "; console:\n" + Files.readString(z.directory().resolve("console.log")),
                    got.toString().startsWith("hello-from-guest-1\nhello-from-guest-2\n"));
            assertTrue(got.toString(), got.toString().endsWith("hello-from-guest-10\n"));
            report = z.nextReport(30);
        }

        assertNotNull("the guest's own power-off is reported; alive: " + ProcessHandle.of(pidOf(r))
                .map(QemuProcess::running).orElse(false) + "; console:\n"
                + Files.readString(z.directory().resolve("console.log")), report);
        assertEquals(report.reason(), ZoneState.STOPPED, report.state());
        assertTrue(report.reason(), report.reason().contains("powered off"));
        assertFalse(ProcessHandle.of(pidOf(r)).map(QemuProcess::running).orElse(false));
        assertEquals(ZoneState.STOPPED, kvm.observe(z));
        assertFalse(Files.exists(sock));
        waitForConsole(z, "zonekeeper: zone beta finished, exit 0", 1);
    }

    @Test
    public void secondDriverAdoptsRunningGuestByProofAndRefusesAnotherZonesRecord() throws Exception {
        KvmDriver first = driver();
        TestZone z = zone(ZoneSpec.builder("gamma").cmdline("zk.heartbeat=1").build());
        RuntimeRecord r = first.start(z);
        long pid = pidOf(r);
        waitForConsole(z, "zonekeeper: tick 1", 30);

        first.deactivate();
        assertTrue("deactivation leaves the guest running", QemuProcess.running(ProcessHandle.of(pid).orElseThrow()));

        KvmDriver second = driver();
        TestZone impostor = z.withId(UUID.randomUUID());
        Adoption refused = second.adopt(impostor);
        assertFalse(refused.adopted());
        assertTrue(refused.reason(), refused.reason().contains(z.id().toString()));
        assertTrue("refusal kills nothing", QemuProcess.running(ProcessHandle.of(pid).orElseThrow()));

        Adoption adopted = second.adopt(z);
        assertTrue(adopted.reason(), adopted.adopted());
        assertEquals(ZoneState.RUNNING, adopted.state());
        assertEquals(Long.valueOf(pid), second.watchedPid(z.id()).orElseThrow());

        second.pause(z);
        assertEquals(ZoneState.PAUSED, second.observe(z));
        second.resume(z);
        assertEquals(ZoneState.RUNNING, second.observe(z));

        try (ByteChannel console = second.attachConsole(z)) {
            console.write(ByteBuffer.wrap("echo via-console-$((6*7))\n".getBytes(StandardCharsets.US_ASCII)));
            waitForConsole(z, "via-console-42", 20);
        }
        assertTrue(QemuProcess.running(ProcessHandle.of(pid).orElseThrow()));

        // QEMU dies unasked: the adopting driver reports a crash with what the console said last.
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        TestZone.Report report = z.nextReport(15);
        assertNotNull("the crash is reported", report);
        assertEquals(report.reason(), ZoneState.CRASHED, report.state());
        assertTrue(report.reason(), report.reason().contains("zonekeeper: tick"));
        assertEquals(ZoneState.CRASHED, second.observe(z));

        second.kill(z);
        Set<String> left = filesIn(z.directory());
        assertEquals(Set.of("console.log"), left);
    }

    @Test
    public void unsupportedSpecMissingKernelAndTooMuchMemoryFailCleanly() throws Exception {
        KvmDriver kvm = driver();
        TestZone withDevice = zone(ZoneSpec.builder("delta").device(DeviceSpec.pci("0000:01:00.0")).build());
        try {
            kvm.start(withDevice);
            fail("a device that no backend prepared cannot be rendered");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("devices[0]: no pci device was prepared"));
        }
        TestZone noKernel = zone(ZoneSpec.builder("delta").kernel("/nonexistent/vmlinuz-0").build());
        try {
            kvm.start(noKernel);
            fail("the kernel does not exist");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("/nonexistent/vmlinuz-0"));
        }
        TestZone huge = zone(ZoneSpec.builder("delta").memoryMiB(ZoneSpec.MAX_MEMORY_MIB).build());
        try {
            kvm.start(huge);
            fail("more memory than the host has");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("MiB available"));
        }
        for (TestZone z : List.of(withDevice, noKernel, huge)) {
            assertEquals(Set.of(), filesIn(z.directory()));
            assertTrue(z.runtime().isEmpty());
        }
        assertEquals(0, liveQemuChildren());
    }

    @Test
    public void qemuThatFailsToBootIsReportedInItsOwnWordsAndLeavesNothing() throws Exception {
        Path junkDir = Files.createTempDirectory(Path.of("/tmp"), "zk-k");
        dirs.add(junkDir);
        Path junk = junkDir.resolve("vmlinux-junk");
        byte[] elf = new byte[4096];
        elf[0] = 0x7F;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        Files.write(junk, elf);
        TestZone z = zone(ZoneSpec.builder("epsilon").kernel(junk.toString()).build());
        Files.writeString(z.directory().resolve("console.log"), "an earlier boot\n");
        try {
            driver().start(z);
            fail("a kernel outside the boot folders is refused");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("kernel " + junk + " is outside the folders a zone's"
                    + " kernel and initramfs may come from"));
        }
        KvmDriver kvm = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null, null,
                List.of(junkDir), KvmDriver.Settings.DEFAULT_CONSOLE_LOG_CAP));
        drivers.add(kvm);

        try {
            kvm.start(z);
            fail("QEMU cannot load that kernel");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("QEMU exited at start"));
            assertTrue(e.getMessage(), e.getMessage().contains("qemu-system-x86_64:"));
        }
        assertEquals(Set.of("console.log"), filesIn(z.directory()));
        assertEquals("an earlier boot\n", Files.readString(z.directory().resolve("console.log")));
        assertEquals(0, liveQemuChildren());
    }
}

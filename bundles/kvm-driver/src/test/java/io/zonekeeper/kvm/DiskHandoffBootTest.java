package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * A disk image swapped for a symbolic link to a host file after the appliance checked it (the symlink race): QEMU
 * still gets the checked image, because the driver opens it and hands QEMU the open file, and QEMU holds no
 * descriptor of the host file. A swap before the driver's own open is refused and nothing starts.
 */
public class DiskHandoffBootTest {
    private static final Path STATE = Path.of("target", "kvm-handoff-state").toAbsolutePath();
    private final List<Path> dirs = new ArrayList<>();
    private KvmDriver driver;

    @BeforeClass
    public static void needsQemuKernelAndBusybox() {
        JailedBoots.needQemuAndBusybox();
    }

    @After
    public void killEverythingStarted() throws IOException {
        JailedBoots.cleanUp(driver, dirs);
    }

    /** A zone with one disk, and a host file beside it that a swap points the disk's path at. */
    private TestZone zone(String name) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        dirs.add(dir);
        Path disk = dir.resolve("data.img");
        Files.write(disk, new byte[1 << 20]);
        Files.writeString(dir.resolve("host-secret"), "host secret\n");
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder(name).disk(new DiskSpec(disk.toString(), "raw",
                false)).build(), dir);
        // What zone-disk hands the driver: the image's real path, checked.
        z.resources = new PreparedResources(List.of(), List.of(new PreparedDisk("data", disk.toRealPath().toString(),
                "raw", false)));
        return z;
    }

    /** Moves the checked image aside and puts a symbolic link to the host file at its path. */
    private static void swapForLink(TestZone z) {
        Path disk = z.directory().resolve("data.img");
        try {
            Files.move(disk, z.directory().resolve("checked.img"));
            Files.createSymbolicLink(disk, z.directory().resolve("host-secret"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The files QEMU holds open, from /proc/PID/fd. */
    private static List<String> openFiles(long pid) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    out.add(Files.readSymbolicLink(fd).toString());
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        return out;
    }

    @Test
    public void anImageSwappedForALinkAfterTheCheckStillReachesQemuAsTheCheckedFile() throws Exception {
        driver = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        TestZone z = zone("hand");
        z.beforeLaunch = () -> swapForLink(z);
        RuntimeRecord r = driver.start(z);
        long pid = Long.parseLong(r.get(RuntimeRecord.PID).orElseThrow());
        assertTrue("the swap did not happen", Files.isSymbolicLink(z.directory().resolve("data.img")));
        List<String> open = openFiles(pid);
        String checked = z.directory().resolve("checked.img").toRealPath().toString();
        assertTrue("QEMU does not hold the checked image " + checked + ": " + open, open.contains(checked));
        assertFalse("QEMU holds the host file: " + open, open.stream().anyMatch(f -> f.endsWith("host-secret")));
        List<String> argv = QemuProcess.cmdline(pid);
        assertTrue(argv.toString(), argv.contains("fd=3,set=1,opaque=disk0"));
        assertTrue(argv.toString(), argv.stream().anyMatch(a -> a.contains("\"filename\":\"/dev/fdset/1\"")));
        JailedBoots.waitForConsole(z, "zonekeeper: zone hand ready");
        driver.kill(z);
    }

    @Test
    public void anImageSwappedForALinkBeforeTheDriverOpensItIsRefusedAndNothingStarts() throws Exception {
        driver = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        TestZone z = zone("hand2");
        swapForLink(z);
        try {
            driver.start(z);
            fail("a zone whose checked image became a link started");
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("disk data: cannot open "));
            assertTrue(e.getMessage(), e.getMessage().contains("symbolic link"));
        }
        assertEquals(List.of(), OurQemus.live().stream()
                .filter(h -> QemuProcess.isQemuOf(h.pid(), z.id())).toList());
    }
}

package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.hostio.CappedLog;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * A hostile guest floods its console with text and terminal escape sequences, as fast as its serial port goes. The
 * driver keeps its console log under the cap (QEMU appends to it, so the copy-truncate leaves no hole), and the
 * crash reason the driver reports quotes the console's last lines escaped. Boots the host's kernel under TCG.
 */
public class ConsoleFloodBootTest {
    private static final Path STATE = Path.of("target", "kvm-state").toAbsolutePath();
    private static final long CAP = 64 * 1024;
    private KvmDriver kvm;
    private Path dir;
    private long pid = -1;

    @BeforeClass
    public static void needsQemuKernelAndBusybox() throws IOException {
        KvmDriverBootTest.needsQemuKernelAndBusybox();
    }

    @After
    public void killTheGuest() throws IOException {
        JailedBoots.cleanUp(kvm, dir == null ? java.util.List.of() : java.util.List.of(dir));
    }

    private static FileTime waitForRotationAfter(Path rotated, FileTime after, int seconds) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (Files.exists(rotated)) {
                FileTime t = Files.getLastModifiedTime(rotated);
                if (after == null || t.compareTo(after) > 0) {
                    return t;
                }
            }
            Thread.sleep(200);
        }
        fail("the console log was not rotated to " + rotated + " within " + seconds + " s");
        return null;
    }

    @Test
    public void aFloodingGuestsLogStaysCappedAndItsCrashReasonIsEscaped() throws Exception {
        kvm = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null, null, java.util.List.of(), CAP));
        dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder("flood").cmdline("zk.run=\"while :; do"
                + " echo flood-line-padded-to-be-a-little-longer; printf '\\033[2J\\033]0;pwned\\007'; done\"")
                .build(), dir);
        RuntimeRecord r = kvm.start(z);
        pid = Long.parseLong(r.get(RuntimeRecord.PID).orElseThrow());
        Path log = dir.resolve("console.log");
        Path rotated = CappedLog.rotated(log);

        FileTime first = waitForRotationAfter(rotated, null, 180);
        waitForRotationAfter(rotated, first, 60);
        long rotatedSize = Files.size(rotated);
        assertTrue("console.log.1 holds " + rotatedSize + " bytes, over the cap of " + CAP, rotatedSize <= CAP);
        String kept = Files.readString(rotated, StandardCharsets.ISO_8859_1);
        assertTrue(kept.contains("flood-line-padded"));
        // QEMU appends (O_APPEND): after a truncation it writes at offset 0 again, not after a hole of NULs.
        byte[] head = new byte[64];
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            int n = f.read(head);
            for (int i = 0; i < n; i++) {
                assertFalse("console.log has a hole at byte " + i + " after a rotation", head[i] == 0);
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals("no temp file or extra generation is left", 0,
                    files.filter(p -> p.getFileName().toString().startsWith("console.log"))
                            .filter(p -> !p.equals(log) && !p.equals(rotated)).count());
        }
        System.out.println("flood: console.log " + Files.size(log) + " bytes, console.log.1 " + rotatedSize
                + " bytes, cap " + CAP);

        ProcessHandle.of(pid).orElseThrow().destroyForcibly(); // a crash, as the driver sees it
        TestZone.Report report = z.nextReport(30);
        assertNotNull("the killed QEMU is reported", report);
        assertEquals(ZoneState.CRASHED, report.state());
        assertTrue(report.reason(), report.reason().contains("\\x1b[2J\\x1b]0;pwned\\x07"));
        assertFalse(report.reason(), report.reason().chars().anyMatch(c -> c < 0x20 || c == 0x7f));
        assertTrue("reason of " + report.reason().length() + " chars", report.reason().length() < 8192);
        assertFalse(QemuProcess.isQemuOf(pid, z.id()));
    }
}

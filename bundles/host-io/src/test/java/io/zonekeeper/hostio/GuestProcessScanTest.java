package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class GuestProcessScanTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final UUID ZONE = UUID.fromString("6c0b9a86-3f4f-4a0e-9d1c-2b7f0a1e5c11");
    private static final UUID OTHER = UUID.fromString("0f4e8d2a-1111-4c3b-8e5d-7a9b0c1d2e3f");

    private void process(Path proc, String pid, String... argv) throws IOException {
        Path dir = Files.createDirectories(proc.resolve(pid));
        Files.write(dir.resolve("cmdline"), (String.join("\0", argv) + "\0").getBytes());
    }

    @Test
    public void findsTheProcessesWithTheZonesUuidOnly() throws IOException {
        Path proc = tmp.newFolder("proc").toPath();
        process(proc, "100", "qemu-system-x86_64", "-name", "a", "-uuid", ZONE.toString(), "-m", "64");
        process(proc, "200", "qemu-system-x86_64", "-uuid", OTHER.toString());
        process(proc, "300", "bash", "-c", "echo -uuid");
        process(proc, "400", "qemu-system-x86_64", "-uuid", "not-a-uuid");
        Files.createDirectories(proc.resolve("self"));
        Files.createDirectories(proc.resolve("500")); // vanished between the listing and the read: no cmdline

        assertEquals(List.of(100L), new GuestProcessScan(proc).pidsOf(ZONE));
        assertEquals(Map.of(100L, ZONE, 200L, OTHER), new GuestProcessScan(proc).all());
    }

    @Test
    public void onlyAUuidArgumentWithAnotherAfterItCountsAsTheFlag() throws IOException {
        assertTrue(GuestProcessScan.hasUuidFlag("-uuid\0x\0".getBytes()));
        assertTrue(GuestProcessScan.hasUuidFlag("qemu\0-uuid\0x".getBytes()));
        assertTrue(GuestProcessScan.hasUuidFlag("a\0x-uuid\0b\0-uuid\0c\0".getBytes()));
        assertFalse(GuestProcessScan.hasUuidFlag("qemu\0-uuid\0".getBytes())); // nothing after it
        assertFalse(GuestProcessScan.hasUuidFlag("qemu\0-uuid".getBytes()));
        assertFalse(GuestProcessScan.hasUuidFlag("qemu\0x-uuid\0y\0".getBytes())); // part of another argument
        assertFalse(GuestProcessScan.hasUuidFlag("qemu\0-uuidx\0y\0".getBytes()));
        assertFalse(GuestProcessScan.hasUuidFlag(new byte[0]));
        // The same verdicts through the scan: "-uuid ID" as the last two arguments, with and without the final NUL.
        Path proc = tmp.newFolder("proc").toPath();
        Files.createDirectories(proc.resolve("1"));
        Files.write(proc.resolve("1/cmdline"), ("qemu\0-uuid\0" + ZONE).getBytes());
        process(proc, "2", "x", "-uuid", ZONE.toString());
        process(proc, "3", "x-uuid", ZONE.toString());
        assertEquals(List.of(1L, 2L), new GuestProcessScan(proc).pidsOf(ZONE));
    }

    @Test
    public void aZombieOrAMissingRootFindsNothing() throws IOException {
        Path proc = tmp.newFolder("proc").toPath();
        Files.createDirectories(proc.resolve("7"));
        Files.write(proc.resolve("7").resolve("cmdline"), new byte[0]);
        assertTrue(new GuestProcessScan(proc).pidsOf(ZONE).isEmpty());
        assertTrue(new GuestProcessScan(proc.resolve("gone")).all().isEmpty());
    }

    @Test
    public void findsARealProcessOnTheHostsProc() throws Exception {
        UUID id = UUID.randomUUID();
        // "-uuid ID" become the shell's $0 and $1; the second command keeps sh from exec'ing sleep in its place.
        Process p = new ProcessBuilder("sh", "-c", "sleep 30; true", "-uuid", id.toString()).start();
        try {
            List<Long> pids = List.of();
            for (int i = 0; i < 100 && pids.isEmpty(); i++) {
                pids = GuestProcessScan.host().pidsOf(id);
                Thread.sleep(20);
            }
            assertEquals(List.of(p.pid()), pids);
        } finally {
            p.destroyForcibly().waitFor();
        }
        assertTrue(GuestProcessScan.host().pidsOf(id).isEmpty());
    }
}

package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.Assume;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Records on a real tmpfs that fills up: every write says the disk is full, and no written record is lost. */
public class AtomicFilesFullDiskTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void onAFullDiskAWriteFailsClearlyAndTheOldRecordSurvivesWhole() throws Exception {
        Assume.assumeTrue("mounting a tmpfs needs root; run as root (scripts/test does)", FullStateDisk.canMount());
        Path state = tmp.newFolder("state").toPath();
        try (FullStateDisk disk = FullStateDisk.mount(state, 64)) {
            Path record = state.resolve("zones/web/zone.json");
            String old = "{\"name\":\"web\",\"memoryMiB\":128}";
            AtomicFiles.writeString(record, old);
            disk.fill();

            String bigger = "{\"name\":\"web\",\"memoryMiB\":256,\"labels\":{\"x\":\"" + "y".repeat(8192) + "\"}}";
            AtomicFiles.DiskFull e = assertThrows(AtomicFiles.DiskFull.class,
                    () -> AtomicFiles.writeString(record, bigger));
            assertTrue(e.getMessage(), e.getMessage().startsWith("no space left on the state disk (the file system of "
                    + record.getParent() + ", "));
            assertTrue(e.getMessage(), e.getMessage().endsWith("zone.json was not written and its previous version, "
                    + "if any, is kept; free space on that disk and try again"));
            assertEquals(old, Files.readString(record));

            Path fresh = state.resolve("zones/db/zone.json");
            assertThrows(AtomicFiles.DiskFull.class, () -> AtomicFiles.writeString(fresh, bigger));
            assertFalse(Files.exists(fresh));
            try (Stream<Path> all = Files.walk(state)) {
                List<Path> temps = all.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
                assertEquals("no temp file is left behind", List.of(), temps);
            }

            // Space comes back: the same write now works, whole.
            Files.delete(state.resolve("filler"));
            AtomicFiles.writeString(record, bigger);
            assertEquals(bigger, Files.readString(record));
        }
    }
}

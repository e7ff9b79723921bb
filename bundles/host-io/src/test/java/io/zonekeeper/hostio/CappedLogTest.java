package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class CappedLogTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aLogUnderItsCapIsLeftAlone() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "0123456789");
        assertFalse(CappedLog.rotate(log, 10));
        assertEquals("0123456789", Files.readString(log));
        assertFalse(Files.exists(CappedLog.rotated(log)));
        assertFalse(CappedLog.rotate(tmp.getRoot().toPath().resolve("none.log"), 10));
    }

    @Test
    public void aLogOverItsCapKeepsItsNewestBytesInDotOneAndAnAppendingWriterGoesOnAtTheStart() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        // The writer holds the log open in append mode across the rotation, as QEMU does.
        try (FileOutputStream writer = new FileOutputStream(log.toFile(), true)) {
            writer.write("old old old\nnewest ten".getBytes(StandardCharsets.US_ASCII));
            writer.flush();
            assertTrue(CappedLog.rotate(log, 10));
            assertEquals("newest ten", Files.readString(CappedLog.rotated(log)));
            assertEquals(0, Files.size(log));
            writer.write("after\n".getBytes(StandardCharsets.US_ASCII));
        }
        assertEquals("after\n", Files.readString(log)); // no hole where the old bytes were
        Files.writeString(log, "a second round", java.nio.file.StandardOpenOption.APPEND);
        assertTrue(CappedLog.rotate(log, 10));
        assertEquals("cond round", Files.readString(CappedLog.rotated(log)));
        try (var s = Files.list(tmp.getRoot().toPath())) {
            assertEquals(2, s.count()); // the log and .1, no temp file left
        }
    }

    @Test
    public void aCapThatIsNotPositiveIsRefused() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "x");
        try {
            CappedLog.rotate(log, 0);
            throw new AssertionError("a cap of 0 was taken");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("positive"));
        }
        assertEquals("x", Files.readString(log));
    }
}

package io.zonekeeper.hostio;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class FileTailTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aLargeFileIsReadOnlyAsFarAsTheBound() throws Exception {
        // 200 MiB, sparse but for its last line: reading it whole would need 200 MiB of heap, three times the
        // appliance's 64 MB.
        Path log = tmp.newFile("console.log").toPath();
        byte[] end = "\nthe last line\n".getBytes(StandardCharsets.US_ASCII);
        long size = 200L << 20;
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
            f.setLength(size - end.length);
            f.seek(size - end.length);
            f.write(end);
        }
        assertEquals(size, Files.size(log));
        FileTail.Tail t = FileTail.read(log, 64 * 1024);
        assertEquals(64 * 1024, t.bytes().length);
        assertEquals(size, t.fileSize());
        assertTrue(t.cut());
        assertEquals("the last line\n", t.text());
        assertEquals(List.of("the last line"), FileTail.lastLines(log, 15, 4096));
    }

    @Test
    public void aSmallFileIsReadWholeAndNotCut() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "first\nsecond\n");
        FileTail.Tail t = FileTail.read(log, 1024);
        assertFalse(t.cut());
        assertEquals("first\nsecond\n", t.text());
    }

    @Test
    public void aCutTailStartsAtAWholeLine() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "aaaaaaaaaa\nbbb\nccc\n");
        assertEquals("bbb\nccc\n", FileTail.read(log, 12).text());
    }

    @Test
    public void aMissingFileIsAnEmptyTail() throws Exception {
        Path none = tmp.getRoot().toPath().resolve("none.log");
        assertEquals(0, FileTail.read(none, 10).bytes().length);
        assertEquals(0, FileTail.readFrom(none, 0, 10).length);
        assertEquals(List.of(), FileTail.lastLines(none, 5, 100));
    }

    @Test
    public void readFromFollowsAFileInBoundedSteps() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "0123456789");
        assertArrayEquals("2345".getBytes(StandardCharsets.US_ASCII), FileTail.readFrom(log, 2, 4));
        assertArrayEquals("89".getBytes(StandardCharsets.US_ASCII), FileTail.readFrom(log, 8, 4));
        assertEquals(0, FileTail.readFrom(log, 10, 4).length);
    }

    @Test
    public void lastLinesAreTheNewestNonBlankOnesEscaped() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "one\r\n\r\ntwo \u001b[2J\r\nthree\n\n");
        assertEquals(List.of("two \\x1b[2J", "three"), FileTail.lastLines(log, 2, 4096));
    }
}

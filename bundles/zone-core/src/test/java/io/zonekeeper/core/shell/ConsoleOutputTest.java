package io.zonekeeper.core.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** zone:logs and zone:wait --console read a bounded part of a console log and print guest text inert. */
public class ConsoleOutputTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path hugeLogEndingWith(String end) throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        byte[] b = end.getBytes(StandardCharsets.UTF_8);
        long size = 200L << 20;
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
            f.setLength(size - b.length); // sparse: no disk, but 200 MiB to anyone who reads it whole
            f.seek(size - b.length);
            f.write(b);
        }
        return log;
    }

    @Test
    public void logsOfAHugeLogShowABoundedEscapedTailAndSaySo() throws Exception {
        Path log = hugeLogEndingWith("\nflood \u001b[2J\u001b]0;pwned\u0007\r\nlast\r\n");
        String out = ZoneCommands.logsText(log, "web", 0);
        assertTrue(out.length() <= ZoneCommands.LOGS_TAIL * 4 + 200); // a NUL shows as 4 chars: \x00
        assertTrue(out, out.startsWith("(zone web's console log holds 204800 KiB; its last 1024 KiB follow)\n"));
        assertTrue(out.endsWith("flood \\x1b[2J\\x1b]0;pwned\\x07\nlast"));
        assertFalse(out.contains("\u001b"));
        assertEquals("flood \\x1b[2J\\x1b]0;pwned\\x07\nlast", ZoneCommands.logsText(log, "web", 2));
    }

    @Test
    public void logsOfASmallLogShowItAllWithoutANote() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "one\r\ntwo\r\nthree\r\n");
        assertEquals("one\ntwo\nthree", ZoneCommands.logsText(log, "web", 0));
        assertEquals("two\nthree", ZoneCommands.logsText(log, "web", 2));
        Files.writeString(log, "four, unfinished", StandardOpenOption.APPEND);
        assertEquals("three\nfour, unfinished", ZoneCommands.logsText(log, "web", 2));
        assertEquals("(zone web has printed nothing yet)",
                ZoneCommands.logsText(tmp.getRoot().toPath().resolve("none.log"), "web", 0));
    }

    @Test
    public void aWorkloadLogIsShownTheSameWayAndNamedAsSuch() throws Exception {
        Path log = tmp.newFile("workload.log").toPath();
        Files.writeString(log, "out \u001b[31mred\u001b[0m\nerr\n");
        Files.writeString(log.resolveSibling("workload.log.1"), "older\n");
        assertEquals("older\nout \\x1b[31mred\\x1b[0m\nerr", ZoneCommands.logsText(log, "app", 0, "workload log"));
        assertEquals("(zone app has printed nothing to its workload log yet)",
                ZoneCommands.logsText(tmp.getRoot().toPath().resolve("none.log"), "app", 0, "workload log"));
        Path huge = hugeLogEndingWith("\nlast\n");
        assertTrue(ZoneCommands.logsText(huge, "app", 0, "workload log")
                .startsWith("(zone app's workload log holds 204800 KiB; its last 1024 KiB follow)\n"));
    }

    @Test
    public void justAfterARotationLogsShowTheEndOfTheGenerationBefore() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "new 1\n");
        Files.writeString(log.resolveSibling("console.log.1"), "old 1\nold 2\n");
        assertEquals("old 1\nold 2\nnew 1", ZoneCommands.logsText(log, "web", 0));
        assertEquals("old 2\nnew 1", ZoneCommands.logsText(log, "web", 2));
        // The bound holds over both: 1 MiB in all, the older part cut at a whole line.
        Files.writeString(log.resolveSibling("console.log.1"), "x".repeat(ZoneCommands.LOGS_TAIL) + "\nold end\n");
        String out = ZoneCommands.logsText(log, "web", 0);
        assertTrue(out, out.startsWith("(zone web's console log holds 1024 KiB; its last 1024 KiB follow)\nold end\nnew 1"));
    }

    @Test
    public void followFindsTextInTheTailOfAHugeLogAndInWhatIsAppendedLater() throws Exception {
        Path log = hugeLogEndingWith("\nbooting \u001b[1mready\u001b[0m\n");
        ConsoleFollow f = new ConsoleFollow(log, "\u001b[1mready", 4096);
        assertTrue(f.step());
        ConsoleFollow later = new ConsoleFollow(log, "zone web ready", 4096);
        assertFalse(later.step());
        assertFalse(later.behind());
        Files.writeString(log, "zonekeeper: zone w", StandardOpenOption.APPEND);
        assertFalse(later.step());
        Files.writeString(log, "eb ready\n", StandardOpenOption.APPEND); // split across two steps
        assertTrue(later.step());
    }

    @Test
    public void followReadsAFastLogInBoundedStepsAndGoesOnAfterARotation() throws Exception {
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "x".repeat(100));
        ConsoleFollow f = new ConsoleFollow(log, "marker", 16);
        assertFalse(f.step());
        Files.writeString(log, "y".repeat(100) + "marker", StandardOpenOption.APPEND);
        int steps = 0;
        boolean found = false;
        while (!found && steps < 20) {
            found = f.step();
            steps++;
        }
        assertTrue(found);
        assertTrue("steps: " + steps, steps >= 100 / 16); // never more than 16 bytes at a time
        Files.writeString(log, "after rotation: marker"); // shorter than before: rotated
        assertTrue(new ConsoleFollow(log, "marker", 16).step());
        assertTrue(f.step());
    }
}

package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class LogCapperTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void eachWatchedLogOverTheCapIsRotatedAndAnUnwatchedOneIsLeftAlone() throws Exception {
        Path a = Files.writeString(tmp.getRoot().toPath().resolve("guest-a.log"), "a".repeat(5000) + "end-a");
        Path b = Files.writeString(tmp.getRoot().toPath().resolve("guest-b.log"), "b".repeat(5000));
        List<LogCapper.ZoneLog> watched = new CopyOnWriteArrayList<>(List.of(new LogCapper.ZoneLog("a", a),
                new LogCapper.ZoneLog("gone", tmp.getRoot().toPath().resolve("none.log"))));
        try (LogCapper capper = new LogCapper("test-log-cap", () -> watched, () -> 1024, 1)) {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (Files.size(a) > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        }
        assertEquals(0, Files.size(a));
        assertEquals(1024, Files.size(CappedLog.rotated(a)));
        assertTrue(Files.readString(CappedLog.rotated(a)).endsWith("end-a"));
        assertEquals("not watched: left as it is", 5000, Files.size(b));
        assertFalse(Files.exists(CappedLog.rotated(b)));
    }

    @Test
    public void aLogThatCannotBeRotatedIsReportedNotThrown() throws Exception {
        Path folder = tmp.newFolder("console.log").toPath(); // a folder where the log should be: not rotated
        LogCapper.capNow(folder, 1024, "z");
        LogCapper.capNow(tmp.getRoot().toPath().resolve("x.log"), 0, "z"); // a bad cap: logged
        assertTrue(Files.isDirectory(folder));
    }
}

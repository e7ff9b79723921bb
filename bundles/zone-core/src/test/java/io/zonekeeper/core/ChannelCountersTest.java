package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** What a guest reported its channels moved, read back from its console log. */
public class ChannelCountersTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void theLatestReportOfTheLastBootCounts() {
        String log = "zonekeeper: zone a ready\n"
                + "zonekeeper: channel data sent 10 received 0\n"
                + "zonekeeper: channel logs sent 5 received 5\n"
                + "[    0.000000] a second boot\n"
                + "zonekeeper: zone a ready\n"
                + "zonekeeper: channel data sent 0 received 0\n"
                + "~ # zonekeeper: channel data sent 65536 received 3\n";
        assertEquals(Map.of("data", new ChannelCounters.Counters(65536, 3)), ChannelCounters.parse(log, "a"));
    }

    @Test
    public void anotherZonesMarkerOrAGarbledLineIsNotAReport() {
        String log = "zonekeeper: zone a ready\nzonekeeper: channel data sent 7 received 1\n"
                + "zonekeeper: zone ab ready\nzonekeeper: channel data sent x received 1\n"
                + "zonekeeper: channel Data sent 1 received 1\n";
        assertEquals(Map.of("data", new ChannelCounters.Counters(7, 1)), ChannelCounters.parse(log, "a"));
    }

    @Test
    public void noLogOrNoReportIsNothingRatherThanZero() throws Exception {
        assertEquals(Map.of(), ChannelCounters.fromConsoleLog(tmp.getRoot().toPath().resolve("none.log"), "a"));
        Path log = tmp.newFile("console.log").toPath();
        Files.writeString(log, "zonekeeper: zone a ready\n", StandardCharsets.UTF_8);
        assertEquals(Map.of(), ChannelCounters.fromConsoleLog(log, "a"));
    }

    @Test
    public void onlyTheEndOfALargeLogIsRead() throws Exception {
        Path log = tmp.newFile("big.log").toPath();
        StringBuilder sb = new StringBuilder("zonekeeper: zone a ready\nzonekeeper: channel old sent 1 received 1\n");
        sb.append("x".repeat(ChannelCounters.TAIL));
        sb.append("\nzonekeeper: channel data sent 2 received 3\n");
        Files.writeString(log, sb, StandardCharsets.ISO_8859_1);
        assertEquals(Map.of("data", new ChannelCounters.Counters(2, 3)), ChannelCounters.fromConsoleLog(log, "a"));
    }
}

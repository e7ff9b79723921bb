package io.zonekeeper.observe;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class EventLogTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static RecordedEvent event(int i) {
        return RecordedEvent.of("io/zonekeeper/zone/STARTED", Map.of("zone", "z" + i, "state", "RUNNING", "driver",
                "kvm", "reason", "started " + i, "time", 1_000L + i), 0);
    }

    @Test
    public void keepsTheLastEventsAcrossARestartAndNeverGrowsPastTwiceItsCapacity() throws Exception {
        Path file = tmp.getRoot().toPath().resolve("events/events.jsonl");
        EventLog log = new EventLog(file, 10);
        log.open();
        for (int i = 0; i < 35; i++) {
            log.append(event(i));
            assertTrue(Files.readAllLines(file).size() <= 20);
        }
        assertEquals(List.of("z32", "z33", "z34"), log.last(3).stream().map(RecordedEvent::zone).toList());

        EventLog again = new EventLog(file, 10);
        again.open();
        List<RecordedEvent> kept = again.last(100);
        assertEquals(10, kept.size());
        assertEquals("z25", kept.get(0).zone());
        assertEquals(event(34), kept.get(9));
    }

    @Test
    public void aTornLastLineIsSkippedAndTheRestLoads() throws Exception {
        Path file = tmp.getRoot().toPath().resolve("events.jsonl");
        Files.writeString(file, event(1).toJson() + "\n" + event(2).toJson() + "\n{\"time\":\"20");
        EventLog log = new EventLog(file, 10);
        log.open();
        assertEquals(List.of(event(1), event(2)), log.last(10));
    }

    @Test
    public void followersGetEachNewEvent() throws Exception {
        EventLog log = new EventLog(tmp.getRoot().toPath().resolve("e.jsonl"), 5);
        log.open();
        List<RecordedEvent> got = new CopyOnWriteArrayList<>();
        log.follow(got::add);
        log.append(event(1));
        log.unfollow(got::add);
        assertEquals(List.of(event(1)), got);
    }

    @Test
    public void guestTextInAReasonIsEscapedAndBounded() {
        RecordedEvent e = RecordedEvent.of("io/zonekeeper/zone/CRASHED", Map.of("zone", "z", "reason",
                "panic \u001b]0;pwned\u0007", "console", "x".repeat(10_000)), 5);
        assertEquals("panic \\x1b]0;pwned\\x07", e.reason());
        assertTrue(e.console().length() < RecordedEvent.TEXT_LIMIT + 20);
        assertEquals("CRASHED", e.kind());
        assertEquals(5, e.timeMillis());
        assertEquals(e, RecordedEvent.parse(e.toJson().toString()));
    }
}

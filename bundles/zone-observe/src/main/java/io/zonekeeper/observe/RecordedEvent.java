package io.zonekeeper.observe;

import java.io.StringReader;
import java.time.Instant;
import java.util.Map;

import io.zonekeeper.hostio.GuestText;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;

/**
 * One lifecycle event as the log keeps it: the topic's last segment ({@code STARTED}), the zone, its state, the
 * driver, the reason, and for a crash the guest's last console lines. Text is escaped ({@link GuestText}), since a
 * reason may quote the guest.
 */
record RecordedEvent(long timeMillis, String topic, String zone, String state, String driver, String reason,
        String console) {
    /** The longest reason or console text kept: an event quotes a few lines, never a log. */
    static final int TEXT_LIMIT = 4096;

    RecordedEvent {
        reason = bounded(reason);
        console = bounded(console);
    }

    /** From an Event Admin event's topic and properties. */
    static RecordedEvent of(String topic, Map<String, ?> p, long nowMillis) {
        Object t = p.get("time");
        return new RecordedEvent(t instanceof Long l ? l : nowMillis, topic, text(p.get("zone")),
                text(p.get("state")), text(p.get("driver")), text(p.get("reason")), text(p.get("console")));
    }

    /** The topic's last segment: STARTED, CRASHED, UPGRADE_BEGAN. */
    String kind() {
        return topic.substring(topic.lastIndexOf('/') + 1);
    }

    JsonObject toJson() {
        JsonObjectBuilder b = Json.createObjectBuilder().add("time", Instant.ofEpochMilli(timeMillis).toString())
                .add("topic", topic).add("kind", kind()).add("zone", zone).add("state", state).add("driver", driver)
                .add("reason", reason);
        if (!console.isEmpty()) {
            b.add("console", console);
        }
        return b.build();
    }

    /** The event from one line of the log; throws on a line that is not one of ours. */
    static RecordedEvent parse(String line) {
        try (JsonReader r = Json.createReader(new StringReader(line))) {
            JsonObject o = r.readObject();
            return new RecordedEvent(Instant.parse(o.getString("time")).toEpochMilli(), o.getString("topic"),
                    o.getString("zone"), o.getString("state"), o.getString("driver"), o.getString("reason"),
                    o.getString("console", ""));
        }
    }

    /** One line for people: time, kind, zone, state, driver, reason. */
    String describe() {
        return Instant.ofEpochMilli(timeMillis) + "  " + pad(kind(), 20) + pad(zone, 16) + pad(state, 10)
                + pad(driver, 8) + reason.replace("\n", " | ")
                + (console.isEmpty() ? "" : "\n    console: " + console.replace("\n", "\n    console: "));
    }

    private static String pad(String s, int n) {
        return s.length() >= n ? s + " " : s + " ".repeat(n - s.length());
    }

    private static String text(Object o) {
        return o == null ? "" : o.toString();
    }

    private static String bounded(String s) {
        if (s == null) {
            return "";
        }
        String cut = s.length() <= TEXT_LIMIT ? s : s.substring(0, TEXT_LIMIT) + "... (cut)";
        return GuestText.escape(cut);
    }
}

package io.zonekeeper.kvm.accel;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The ordered "step → outcome" lines that end up in {@link AccelVerdict#steps()}. */
final class StepLog {

    private final Map<String, String> lines = new LinkedHashMap<>();

    void ok(String step, long startNanos, String detail) {
        put(step, "ok", startNanos, detail);
    }

    void failed(String step, long startNanos, String detail) {
        put(step, "failed", startNanos, detail);
    }

    void note(String step, String line) {
        lines.put(step, line);
    }

    void addAll(Map<String, String> more) {
        lines.putAll(more);
    }

    Map<String, String> asMap() {
        return new LinkedHashMap<>(lines);
    }

    private void put(String step, String outcome, long startNanos, String detail) {
        String line = outcome + " " + millis(System.nanoTime() - startNanos);
        lines.put(step, detail == null || detail.isEmpty() ? line : line + ": " + detail);
    }

    static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }
}

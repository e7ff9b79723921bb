package io.zonekeeper.conformance;

import java.time.Duration;
import java.util.List;

/**
 * What one scenario showed.
 *
 * @param scenario its name
 * @param outcome  pass, fail, or skip (the driver lacks what the scenario needs, such as a recorded pid)
 * @param detail   why it failed or was skipped; empty for a pass
 * @param steps    what it did and saw, in order
 * @param took     how long it ran
 */
public record ScenarioResult(String scenario, Outcome outcome, String detail, List<String> steps, Duration took) {

    /** How a scenario ended. */
    public enum Outcome {
        PASS, FAIL, SKIP
    }

    public ScenarioResult {
        steps = List.copyOf(steps);
        detail = detail == null ? "" : detail;
    }

    /** One line: {@code PASS lifecycle (8.2 s)}, with the reason for a failure or a skip. */
    public String line() {
        String head = String.format("%s %s (%.1f s)", outcome, scenario, took.toMillis() / 1000.0);
        return detail.isEmpty() ? head : head + ": " + detail;
    }
}

package io.zonekeeper.conformance;

import java.util.List;
import java.util.stream.Collectors;

import io.zonekeeper.conformance.ScenarioResult.Outcome;

/**
 * The results of a conformance run against one driver.
 *
 * @param driverType   the driver type under test
 * @param driverBundle the bundle that provided it when the run began ({@code symbolic-name version}), or a note
 *                     that none was bound
 * @param results      one per scenario, in the order they ran
 */
public record ConformanceReport(String driverType, String driverBundle, List<ScenarioResult> results) {

    public ConformanceReport {
        results = List.copyOf(results);
    }

    /** True when no scenario failed (skipped ones do not count against the driver). */
    public boolean passed() {
        return results.stream().noneMatch(r -> r.outcome() == Outcome.FAIL);
    }

    public long count(Outcome outcome) {
        return results.stream().filter(r -> r.outcome() == outcome).count();
    }

    /** {@code driver kvm (kvm-driver 1.0.0): 5 passed, 0 failed, 0 skipped}. */
    public String summary() {
        return "driver " + driverType + " (" + driverBundle + "): " + count(Outcome.PASS) + " passed, "
                + count(Outcome.FAIL) + " failed, " + count(Outcome.SKIP) + " skipped";
    }

    /** One line per scenario, then the summary. */
    @Override
    public String toString() {
        return results.stream().map(ScenarioResult::line).collect(Collectors.joining("\n")) + "\n" + summary();
    }

    /**
     * Throws an {@link AssertionError} that lists every failed scenario with the steps it took, for a JUnit test;
     * returns quietly when none failed.
     */
    public void assertPassed() {
        if (passed()) {
            return;
        }
        StringBuilder sb = new StringBuilder(summary());
        for (ScenarioResult r : results) {
            if (r.outcome() == Outcome.FAIL) {
                sb.append("\n").append(r.line());
                r.steps().forEach(s -> sb.append("\n    ").append(s));
            }
        }
        throw new AssertionError(sb.toString());
    }
}

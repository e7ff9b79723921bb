package io.zonekeeper.conformance;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * One conformance scenario. It drives zones of the driver under test through {@link ScenarioRun} and fails with an
 * {@link AssertionError} (through {@link ScenarioRun#require}) that says what the driver did wrong. A vendor may add
 * scenarios of their own next to the standard ones ({@link DriverConformance#standardScenarios()}).
 */
@ConsumerType
public interface Scenario {
    /** A short name, such as {@code lifecycle}: what {@code driver:conformance --only} takes. */
    String name();

    /** What a pass proves, in one sentence, for the report. */
    String proves();

    /** Runs the scenario. Zones made through {@link ScenarioRun#newZone} are cleaned up afterwards in any case. */
    void run(ScenarioRun run) throws Exception;
}

package io.zonekeeper.conformance;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.time.Duration;
import java.util.List;

import org.junit.Test;

import io.zonekeeper.conformance.ScenarioResult.Outcome;

public class ConformanceReportTest {

    @Test
    public void aSkipDoesNotFailTheDriverButAFailDoesWithItsSteps() {
        ScenarioResult pass = new ScenarioResult("lifecycle", Outcome.PASS, "", List.of("created"),
                Duration.ofMillis(8200));
        ScenarioResult skip = new ScenarioResult("guest-death", Outcome.SKIP, "no pid", List.of(), Duration.ZERO);
        ScenarioResult failed = new ScenarioResult("bad-specs", Outcome.FAIL, "kernel not named",
                List.of("created zkc-bad-1", "start refused"), Duration.ofMillis(300));

        ConformanceReport good = new ConformanceReport("acme", "acme-driver 1.0.0", List.of(pass, skip));
        assertTrue(good.passed());
        good.assertPassed();
        assertEquals("driver acme (acme-driver 1.0.0): 1 passed, 0 failed, 1 skipped", good.summary());
        assertEquals("PASS lifecycle (8.2 s)", pass.line());
        assertEquals("SKIP guest-death (0.0 s): no pid", skip.line());

        ConformanceReport bad = new ConformanceReport("acme", "acme-driver 1.0.0", List.of(pass, failed));
        assertFalse(bad.passed());
        try {
            bad.assertPassed();
            fail("a failed scenario must fail the assertion");
        } catch (AssertionError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("FAIL bad-specs (0.3 s): kernel not named"));
            assertTrue(e.getMessage(), e.getMessage().contains("    start refused"));
        }
    }

    @Test
    public void theStandardScenariosHaveDistinctNames() {
        List<String> names = DriverConformance.standardScenarios().stream().map(Scenario::name).toList();
        assertEquals(List.of("bad-specs", "lifecycle", "no-leaked-processes", "guest-death",
                "guest-powers-off", "adoption-after-upgrade"), names);
        assertTrue(DriverConformance.standardScenario("lifecycle").isPresent());
        assertTrue(DriverConformance.standardScenario("nope").isEmpty());
    }
}

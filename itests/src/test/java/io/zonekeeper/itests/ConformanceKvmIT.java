package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.conformance.ConformanceReport;
import io.zonekeeper.conformance.DriverConformance;
import io.zonekeeper.conformance.ScenarioResult.Outcome;

/**
 * The driver conformance kit against the real kvm-driver: real QEMU zones (TCG here) booting Zonekeeper's own zone
 * image, exactly as a vendor runs the kit against their driver.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ConformanceKvmIT {
    private static final Path STATE = Containers.newStateDir("conformance-kvm");

    @Inject
    BundleContext context;
    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.conformanceKit() };
    }

    private static DriverConformance kit() {
        return DriverConformance.forDriver("kvm")
                .spec(ZoneSpec.builder("template").memoryMiB(128).cmdline("loglevel=4").build())
                .readyMarker("zonekeeper: zone {name} ready")
                .stopGrace(Duration.ofSeconds(20))
                .guestPowersOffWith("zk.run=true") // the zone init runs the command, then powers off
                .progress(System.out::println);
    }

    @After
    public void nothingOfTheKitIsLeft() {
        for (ZoneInfo z : zones.list()) {
            assertTrue("the kit left zone " + z.name(), !z.name().startsWith(DriverConformance.ZONE_PREFIX));
        }
    }

    @Test
    public void kvmDriverPassesEveryScenarioOfTheKit() {
        ConformanceReport report = kit().run(context, zones);
        report.assertPassed();
        // KVM guests are host processes with a recorded pid: no scenario may be skipped for it.
        assertEquals(report.toString(), 0, report.count(Outcome.SKIP));
        assertEquals(report.toString(), 6, report.count(Outcome.PASS));
    }

    @Test
    public void kvmDriverAdoptsItsZoneAfterAnUpgradeToTheNextBuild() {
        Path next = Containers.testBuild("kvm-driver-next");
        ConformanceReport report = kit().upgradeTo(next).run(context, zones,
                List.of(DriverConformance.standardScenario("adoption-after-upgrade").orElseThrow()));
        report.assertPassed();
        assertTrue(report.results().get(0).steps().stream().anyMatch(s -> s.contains("-> 1.0.1")));
    }

    @Test
    public void theShellCommandPrintsAResultPerScenarioAndFailsWhenTheDriverIsMissing() {
        Containers.Result run = Containers.run(shell, "driver:conformance --only bad-specs kvm");
        assertTrue(run.output() + run.failure(), run.failure() == null);
        String out = run.output();
        assertTrue(out, out.contains("PASS bad-specs"));
        assertTrue(out, out.contains("kernel /nonexistent/zonekeeper-conformance/vmlinuz does not exist"));
        assertTrue(out, out.contains("driver kvm (kvm-driver 1.0.") && out.contains("1 passed, 0 failed, 0 skipped"));

        String error = Containers.run(shell, "driver:conformance --only lifecycle acme").error();
        assertTrue(error, error.contains("driver acme does not conform: driver acme (not bound): 0 passed, 1 failed"));
        String unknown = Containers.run(shell, "driver:conformance --only nope kvm").error();
        assertTrue(unknown, unknown.contains("no scenario 'nope'") && unknown.contains("adoption-after-upgrade"));
    }
}

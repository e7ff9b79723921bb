package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.conformance.ConformanceReport;
import io.zonekeeper.conformance.DriverConformance;
import io.zonekeeper.conformance.ScenarioResult;
import io.zonekeeper.conformance.ScenarioResult.Outcome;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/**
 * The kit itself: it passes a driver that keeps the SPI's promises and fails one that breaks them, naming what it
 * broke. Both drivers run each guest as a real host process (a {@code sleep} whose argv[0] names the zone id), so the
 * kit's process checks see real processes; the faulty one forgets to end them on kill, does not check the kernel,
 * and never reports a guest that died.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ConformanceKitIT {
    private static final Path STATE = Containers.newStateDir("conformance-kit");

    @Inject
    BundleContext context;
    @Inject
    ZoneManager zones;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.conformanceKit() };
    }

    /** Guests as {@code bash -c 'exec -a guest-UUID sleep 600'}: one host process per zone that names it. */
    static final class ProcessGuestDriver implements HypervisorDriver {
        private final String type;
        private final boolean faulty;
        private final Map<UUID, ProcessHandle> guests = new ConcurrentHashMap<>();
        private final Set<UUID> asked = ConcurrentHashMap.newKeySet();

        ProcessGuestDriver(String type, boolean faulty) {
            this.type = type;
            this.faulty = faulty;
        }

        @Override
        public String type() {
            return type;
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(EnumSet.of(Feature.ADOPTION), 4, 4096, Map.of("guests", "host processes"));
        }

        @Override
        public RuntimeRecord start(ZoneContext zone) throws DriverException {
            ZoneSpec spec = zone.spec();
            if (!faulty) {
                for (String p : new String[] { spec.kernel(), spec.initramfs() }) {
                    if (p != null && !Files.isRegularFile(Path.of(p))) {
                        throw new DriverException("zone " + zone.name() + ": " + p + " does not exist");
                    }
                }
            }
            Process p;
            try {
                p = new ProcessBuilder("bash", "-c", "exec -a guest-" + zone.id() + " sleep 600")
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            } catch (IOException e) {
                throw new DriverException("cannot start the guest process: " + e.getMessage(), e);
            }
            asked.remove(zone.id());
            guests.put(zone.id(), p.toHandle());
            if (!faulty) {
                p.onExit().thenRun(() -> {
                    if (!asked.contains(zone.id())) {
                        zone.report(ZoneState.CRASHED, "guest process " + p.pid() + " exited unasked");
                    }
                });
            }
            RuntimeRecord r = new RuntimeRecord(type, Map.of(RuntimeRecord.PID, Long.toString(p.pid()),
                    "uuid", zone.id().toString()));
            zone.saveRuntime(r);
            return r;
        }

        @Override
        public Adoption adopt(ZoneContext zone) {
            Optional<ProcessHandle> p = zone.runtime().flatMap(r -> r.get(RuntimeRecord.PID))
                    .flatMap(pid -> ProcessHandle.of(Long.parseLong(pid))).filter(ProcessHandle::isAlive);
            return p.isPresent() ? Adoption.adopted(ZoneState.RUNNING) : Adoption.refused("no guest process");
        }

        private void end(ZoneContext zone) {
            asked.add(zone.id());
            ProcessHandle p = guests.remove(zone.id());
            if (p != null) {
                p.destroyForcibly();
                p.onExit().orTimeout(10, TimeUnit.SECONDS).join();
            }
        }

        @Override
        public void stop(ZoneContext zone, Duration grace) {
            end(zone);
        }

        @Override
        public void kill(ZoneContext zone) {
            if (faulty) {
                asked.add(zone.id());
                guests.remove(zone.id()); // forgets the process: it keeps running
                return;
            }
            end(zone);
        }

        @Override
        public ZoneState observe(ZoneContext zone) {
            ProcessHandle p = guests.get(zone.id());
            return p != null && p.isAlive() ? ZoneState.RUNNING : ZoneState.STOPPED;
        }
    }

    private ServiceRegistration<HypervisorDriver> register(ProcessGuestDriver d) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(HypervisorDriver.TYPE_PROPERTY, d.type());
        return context.registerService(HypervisorDriver.class, d, props);
    }

    private static String cmdline(Path file) {
        try {
            return new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    private static ScenarioResult result(ConformanceReport report, String scenario) {
        return report.results().stream().filter(r -> r.scenario().equals(scenario)).findFirst().orElseThrow();
    }

    @Test
    public void aDriverThatKeepsThePromisesPasses() {
        ServiceRegistration<HypervisorDriver> reg = register(new ProcessGuestDriver("honest", false));
        try {
            ConformanceReport report = DriverConformance.forDriver("honest").bootTimeout(Duration.ofSeconds(20))
                    .progress(System.out::println).run(context, zones);
            report.assertPassed();
            assertEquals(report.toString(), 4, report.count(Outcome.PASS));
            // Registered by the test probe, which cannot update itself: said, not failed.
            assertEquals(Outcome.SKIP, result(report, "adoption-after-upgrade").outcome());
            // No command line that makes its guest power off was given: said, not failed.
            assertEquals(Outcome.SKIP, result(report, "guest-powers-off").outcome());
        } finally {
            reg.unregister();
        }
    }

    @Test
    public void aDriverThatBreaksThemFailsWithWhatItBroke() throws Exception {
        ServiceRegistration<HypervisorDriver> reg = register(new ProcessGuestDriver("faulty", true));
        try {
            ConformanceReport report = DriverConformance.forDriver("faulty").bootTimeout(Duration.ofSeconds(5))
                    .stopGrace(Duration.ofSeconds(1)).progress(System.out::println).run(context, zones);
            System.out.println(report);
            assertTrue(report.toString(), !report.passed());

            ScenarioResult bad = result(report, "bad-specs");
            assertEquals(Outcome.FAIL, bad.outcome());
            assertTrue(bad.detail(), bad.detail().contains("a zone with a kernel that does not exist was started"));

            ScenarioResult life = result(report, "lifecycle");
            assertEquals(Outcome.FAIL, life.outcome());
            assertTrue(life.detail(), life.detail().contains("after destroy of the running zone, these processes of "
                    + "zone zkc-life-") && life.detail().contains("guest-"));

            ScenarioResult leak = result(report, "no-leaked-processes");
            assertEquals(Outcome.FAIL, leak.outcome());
            assertTrue(leak.detail(), leak.detail().contains("after a destroy during boot"));

            ScenarioResult death = result(report, "guest-death");
            assertEquals(Outcome.FAIL, death.outcome());
            assertTrue(death.detail(), death.detail().contains("did not reach [DEFINED, STOPPED, CRASHED]"));

            // The kit cleaned up after the faulty driver: no zone of its own and no guest process are left.
            assertTrue(zones.list().stream().noneMatch(z -> z.name().startsWith(DriverConformance.ZONE_PREFIX)));
            try (var procs = Files.list(Path.of("/proc"))) {
                List<String> left = procs.filter(p -> p.getFileName().toString().matches("\\d+"))
                        .map(p -> cmdline(p.resolve("cmdline"))).filter(c -> c.startsWith("guest-")).toList();
                assertEquals(List.of(), left);
            }
        } finally {
            reg.unregister();
        }
    }
}

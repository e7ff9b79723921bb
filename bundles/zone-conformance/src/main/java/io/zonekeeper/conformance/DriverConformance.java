package io.zonekeeper.conformance;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.conformance.ScenarioResult.Outcome;

/**
 * The conformance kit for one driver type: what to run the scenarios with, and the runs themselves.
 *
 * <pre>
 * DriverConformance.forDriver("acme")
 *         .spec(ZoneSpec.builder("template").memoryMiB(128).build())
 *         .readyMarker("acme: zone {name} ready")
 *         .run(bundleContext, zoneManager)
 *         .assertPassed();
 * </pre>
 *
 * <p>The scenarios make zones named {@code zkc-...} through the {@link ZoneManager} and remove them afterwards; they
 * touch no other zone. The upgrade scenario updates the driver's bundle in place, which every other zone of that
 * driver goes through as in a {@code driver:upgrade}: run the kit on a test appliance, not on a production one.
 */
public final class DriverConformance {
    /** Zones the kit makes are named with this prefix. */
    public static final String ZONE_PREFIX = "zkc-";

    private final String type;
    private ZoneSpec template;
    private String readyMarker;
    private Duration bootTimeout = Duration.ofSeconds(120);
    private Duration stopGrace = Duration.ofSeconds(30);
    private Path upgradeJar;
    private String powerOffCmdline;
    private String crashCmdline;
    private final Map<String, String> refusedLabels = new LinkedHashMap<>();
    private Consumer<String> progress = line -> {
    };

    private DriverConformance(String type) {
        this.type = Objects.requireNonNull(type, "driver type");
    }

    /** The kit for driver {@code type}, with a template of 1 vCPU and 128 MiB on the driver's default image. */
    public static DriverConformance forDriver(String type) {
        return new DriverConformance(type).spec(ZoneSpec.builder("template").build());
    }

    /** The standard scenarios, in the order {@link #run(BundleContext, ZoneManager)} runs them. */
    public static List<Scenario> standardScenarios() {
        return List.of(new BadSpecsScenario(), new LifecycleScenario(), new NoLeakedProcessesScenario(),
                new GuestDeathScenario(), new GuestPowerOffScenario(), new AdoptionAfterUpgradeScenario());
    }

    /** The standard scenario of that name. */
    public static Optional<Scenario> standardScenario(String name) {
        return standardScenarios().stream().filter(s -> s.name().equals(name)).findFirst();
    }

    /**
     * The zone every scenario starts from: its name is replaced, and its {@code hypervisor} is set to the driver
     * under test. It should boot quickly and print {@link #readyMarker} when its guest is up.
     */
    public DriverConformance spec(ZoneSpec template) {
        this.template = Objects.requireNonNull(template, "spec template");
        return this;
    }

    /**
     * Text the guest prints on its console once it is up; {@code {name}} stands for the zone's name. Without a
     * marker, RUNNING is taken as up.
     */
    public DriverConformance readyMarker(String marker) {
        this.readyMarker = marker == null || marker.isEmpty() ? null : marker;
        return this;
    }

    /** How long a guest may take to start and print its marker (default 120 s; nested or emulated guests are slow). */
    public DriverConformance bootTimeout(Duration timeout) {
        this.bootTimeout = Objects.requireNonNull(timeout);
        return this;
    }

    /** The grace period of each stop (default 30 s). */
    public DriverConformance stopGrace(Duration grace) {
        this.stopGrace = Objects.requireNonNull(grace);
        return this;
    }

    /**
     * The jar the upgrade scenario updates the driver bundle to (the next build of the driver). Without it, the
     * bundle is updated from its own location: the same jar again.
     */
    public DriverConformance upgradeTo(Path jar) {
        this.upgradeJar = jar;
        return this;
    }

    /**
     * A label the driver must refuse at start with an error that names {@code labels.KEY} (an option the driver
     * reads from labels and checks, such as {@code xen.type=hvm} on a PV-only driver).
     */
    public DriverConformance refusesLabel(String key, String value) {
        refusedLabels.put(Objects.requireNonNull(key), Objects.requireNonNull(value));
        return this;
    }

    /**
     * Kernel command line words which, added to the template's, make the guest power itself off soon after it is up
     * (for Zonekeeper's own zone images: {@code zk.run=true}). Without them the guest-powers-off scenario is
     * skipped.
     */
    public DriverConformance guestPowersOffWith(String cmdline) {
        this.powerOffCmdline = cmdline == null || cmdline.isBlank() ? null : cmdline;
        return this;
    }

    /**
     * Kernel command line words which, added to the template's, make the guest's kernel crash by itself soon after
     * it is up (for Zonekeeper's own zone images: {@code zk.run="echo c >/proc/sysrq-trigger"}). The guest-death
     * scenario uses them when given; otherwise it kills the recorded pid, and is skipped for a driver that records
     * none.
     */
    public DriverConformance guestCrashesWith(String cmdline) {
        this.crashCmdline = cmdline == null || cmdline.isBlank() ? null : cmdline;
        return this;
    }

    /** Where each step and each result goes as it happens (the shell prints them; a test may log them). */
    public DriverConformance progress(Consumer<String> progress) {
        this.progress = Objects.requireNonNull(progress);
        return this;
    }

    public String driverType() {
        return type;
    }

    ZoneSpec template() {
        return template;
    }

    Optional<String> readyMarker() {
        return Optional.ofNullable(readyMarker);
    }

    Duration bootTimeout() {
        return bootTimeout;
    }

    Duration stopGrace() {
        return stopGrace;
    }

    Optional<Path> upgradeJar() {
        return Optional.ofNullable(upgradeJar);
    }

    Optional<String> powerOffCmdline() {
        return Optional.ofNullable(powerOffCmdline);
    }

    Optional<String> crashCmdline() {
        return Optional.ofNullable(crashCmdline);
    }

    Map<String, String> refusedLabels() {
        return Map.copyOf(refusedLabels);
    }

    Consumer<String> progress() {
        return progress;
    }

    /** Runs every standard scenario. */
    public ConformanceReport run(BundleContext context, ZoneManager zones) {
        return run(context, zones, standardScenarios());
    }

    /** Runs the given scenarios, one after the other, each on zones of its own. */
    public ConformanceReport run(BundleContext context, ZoneManager zones, Collection<? extends Scenario> scenarios) {
        String bundle = describeDriverBundle(context);
        progress.accept("conformance of driver " + type + " (" + bundle + "): " + scenarios.size() + " scenario(s)");
        List<ScenarioResult> results = new ArrayList<>();
        for (Scenario s : scenarios) {
            ScenarioResult r = run(context, zones, s);
            results.add(r);
        }
        ConformanceReport report = new ConformanceReport(type, bundle, results);
        progress.accept(report.summary());
        return report;
    }

    /** Runs one scenario and cleans up after it, whatever happened. */
    public ScenarioResult run(BundleContext context, ZoneManager zones, Scenario scenario) {
        ScenarioRun run = new ScenarioRun(this, context, zones, scenario.name());
        progress.accept("-- " + scenario.name() + ": " + scenario.proves());
        long t0 = System.nanoTime();
        Outcome outcome = Outcome.PASS;
        String detail = "";
        try {
            if (run.driverReference().isEmpty()) {
                throw new AssertionError("no '" + type + "' driver is registered (a HypervisorDriver service "
                        + "with zonekeeper.driver.type=" + type + ")");
            }
            scenario.run(run);
        } catch (ScenarioRun.Skipped e) {
            outcome = Outcome.SKIP;
            detail = e.getMessage();
        } catch (AssertionError e) {
            outcome = Outcome.FAIL;
            detail = e.getMessage();
        } catch (Exception | LinkageError e) {
            outcome = Outcome.FAIL;
            detail = "unexpected " + e;
        }
        List<String> leftovers = run.cleanUp();
        if (outcome != Outcome.FAIL && !leftovers.isEmpty()) {
            outcome = Outcome.FAIL;
            detail = (detail.isEmpty() ? "" : detail + "; ") + "left behind: " + String.join("; ", leftovers);
        }
        if (outcome != Outcome.PASS) {
            run.step(outcome + ": " + detail);
        }
        ScenarioResult r = new ScenarioResult(scenario.name(), outcome, detail, run.steps(),
                Duration.ofNanos(System.nanoTime() - t0));
        progress.accept(r.line());
        return r;
    }

    private String describeDriverBundle(BundleContext context) {
        Optional<ServiceReference<io.zonekeeper.spi.HypervisorDriver>> ref = ScenarioRun.driverReference(context,
                type);
        return ref.map(r -> r.getBundle() == null ? "unregistered"
                : r.getBundle().getSymbolicName() + " " + r.getBundle().getVersion()).orElse("not bound");
    }
}

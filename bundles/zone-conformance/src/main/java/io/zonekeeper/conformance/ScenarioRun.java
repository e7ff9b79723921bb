package io.zonekeeper.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.osgi.annotation.versioning.ProviderType;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.StateLocation;

/**
 * What a {@link Scenario} works with: the container, the driver under test, and checks that fail with a message
 * saying what the driver did. Every zone made through {@link #newZone} is destroyed after the scenario, and every
 * guest process seen for it is ended if it outlived that.
 */
@ProviderType
public final class ScenarioRun {
    private static final int CONSOLE_READ_LIMIT = 1 << 20;
    /** Thrown by {@link #skip}: the scenario cannot judge this driver (it records no pid, say). */
    static final class Skipped extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Skipped(String why) {
            super(why);
        }
    }

    private final DriverConformance kit;
    private final BundleContext context;
    private final ZoneManager zones;
    private final String scenario;
    private final List<String> steps = new ArrayList<>();
    private final List<String> made = new ArrayList<>();
    private final Map<Long, ProcessHandle> guests = new LinkedHashMap<>();
    private final Path stateDir;

    ScenarioRun(DriverConformance kit, BundleContext context, ZoneManager zones, String scenario) {
        this.kit = kit;
        this.context = context;
        this.zones = zones;
        this.scenario = scenario;
        this.stateDir = stateDirectory(context);
    }

    /** zone-core's state directory, from its {@link StateLocation} service; null when there is none. */
    private static Path stateDirectory(BundleContext context) {
        ServiceReference<StateLocation> ref = context.getServiceReference(StateLocation.class);
        StateLocation state = ref == null ? null : context.getService(ref);
        if (state == null) {
            return null;
        }
        try {
            return state.directory();
        } finally {
            context.ungetService(ref);
        }
    }

    public ZoneManager zones() {
        return zones;
    }

    public BundleContext context() {
        return context;
    }

    public String driverType() {
        return kit.driverType();
    }

    public Duration bootTimeout() {
        return kit.bootTimeout();
    }

    public Duration stopGrace() {
        return kit.stopGrace();
    }

    public Optional<Path> upgradeJar() {
        return kit.upgradeJar();
    }

    public Map<String, String> refusedLabels() {
        return kit.refusedLabels();
    }

    /** What makes the guest power itself off, added to the template's command line; see the kit. */
    public Optional<String> powerOffCmdline() {
        return kit.powerOffCmdline();
    }

    /** What makes the guest's kernel crash by itself, added to the template's command line; see the kit. */
    public Optional<String> crashCmdline() {
        return kit.crashCmdline();
    }

    // ------------------------------------------------------------------------------------------- steps, checks

    /** Records what the scenario did or saw; it goes to the report and to the progress output. */
    public void step(String text) {
        steps.add(text);
        kit.progress().accept("   " + scenario + ": " + text);
    }

    List<String> steps() {
        return List.copyOf(steps);
    }

    /** Fails the scenario with {@code failure} unless {@code ok}. */
    public void require(boolean ok, String failure) {
        if (!ok) {
            throw new AssertionError(failure);
        }
    }

    /** Ends the scenario as skipped: it cannot judge this driver, which is not the driver's fault. */
    public void skip(String why) {
        throw new Skipped(why);
    }

    // ---------------------------------------------------------------------------------------------------- zones

    /** A fresh zone name, {@code zkc-TAG-xxxxxx}. */
    public String newZoneName(String tag) {
        return DriverConformance.ZONE_PREFIX + tag + "-" + Integer.toHexString(0x100000
                + ThreadLocalRandom.current().nextInt(0xefffff));
    }

    /** The template with this name, on the driver under test. */
    public ZoneSpec.Builder spec(String name) {
        return kit.template().toBuilder().name(name).hypervisor(kit.driverType());
    }

    /** The template with this name, its kernel command line followed by {@code more}. */
    public ZoneSpec.Builder spec(String name, String more) {
        String base = kit.template().cmdline();
        return spec(name).cmdline(base == null || base.isBlank() ? more : base + " " + more);
    }

    /** Creates a zone from the template under a fresh name; it is destroyed after the scenario. */
    public ZoneInfo newZone(String tag) throws ZoneException {
        return create(spec(newZoneName(tag)).build());
    }

    /** Creates {@code spec} (cleaned up after the scenario) and checks that it is stored DEFINED. */
    public ZoneInfo create(ZoneSpec spec) throws ZoneException {
        made.add(spec.name());
        ZoneInfo z = zones.create(spec);
        require(z.state() == ZoneState.DEFINED, "a new zone should be DEFINED, " + spec.name() + " is " + z.state());
        step("created " + spec.name() + " (" + z.state() + ", id " + z.id() + ")");
        return z;
    }

    /** The zone now; fails when it does not exist. */
    public ZoneInfo info(String name) {
        return zones.get(name).orElseThrow(() -> new AssertionError("zone " + name + " has disappeared"));
    }

    /**
     * Starts the zone and checks what the SPI promises once {@code start} returns: the zone RUNNING on this driver,
     * attached, with a runtime record; and the recorded process alive when there is one.
     */
    public ZoneInfo start(String name) throws ZoneException {
        ZoneInfo z = zones.start(name);
        require(z.state() == ZoneState.RUNNING, "after start, " + name + " is " + z.state() + " (" + z.reason()
                + "), not RUNNING");
        require(driverType().equals(z.driver()), name + " runs on driver " + z.driver() + ", not " + driverType());
        require(z.driverAttached(), name + " is RUNNING but no driver holds it after start");
        require(!z.runtime().isEmpty(), "the driver saved no runtime record for " + name + " before start returned;"
                + " without one a later revision cannot adopt the guest");
        remember(z);
        step("started " + name + ": " + z.state() + ", runtime " + z.runtime());
        pid(z).ifPresent(pid -> require(HostProcesses.treeOf(pid).size() > 0, "the runtime record of " + name
                + " says pid " + pid + ", but no such process is alive"));
        return z;
    }

    /** The pid the driver recorded ({@link RuntimeRecord#PID}), if it records one. */
    public Optional<Long> pid(ZoneInfo z) {
        String p = z.runtime().get(RuntimeRecord.PID);
        if (p == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(p.trim()));
        } catch (NumberFormatException e) {
            throw new AssertionError("runtime record of " + z.name() + " has pid '" + p + "', which is no number");
        }
    }

    /** Waits until the zone is in one of {@code states}; fails with its state and reason otherwise. */
    public ZoneInfo awaitState(String name, Set<ZoneState> states, Duration timeout) {
        try {
            return zones.await(name, states, timeout);
        } catch (ZoneException e) {
            ZoneInfo z = zones.get(name).orElse(null);
            throw new AssertionError("zone " + name + " did not reach " + states + " within " + timeout.toSeconds()
                    + " s: " + (z == null ? "it is gone" : z.state() + " (" + z.reason() + ")") + "; " + e.getMessage());
        }
    }

    // -------------------------------------------------------------------------------------------------- console

    /** The size of the zone's console log now, to look for the marker only in what comes after it. */
    public long consoleLength(String name) {
        try {
            Path log = zones.consoleLog(name);
            return Files.exists(log) ? Files.size(log) : 0;
        } catch (ZoneException | IOException e) {
            return 0;
        }
    }

    /**
     * Waits until the guest prints the ready marker after {@code fromOffset} of its console log (from the start if
     * the log was replaced and is shorter now). Without a marker it only checks the zone is RUNNING.
     */
    public void awaitReady(String name, long fromOffset) throws InterruptedException {
        Optional<String> marker = kit.readyMarker().map(m -> m.replace("{name}", name));
        if (marker.isEmpty()) {
            ZoneInfo z = info(name);
            require(z.state() == ZoneState.RUNNING, name + " is " + z.state() + " (" + z.reason() + ")");
            return;
        }
        long deadline = System.nanoTime() + bootTimeout().toNanos();
        while (true) {
            String text = consoleAfter(name, fromOffset);
            if (text.contains(marker.get())) {
                step(name + " printed '" + marker.get() + "'");
                return;
            }
            ZoneInfo z = info(name);
            if (!z.state().isActive()) {
                throw new AssertionError(name + " became " + z.state() + " (" + z.reason() + ") before it printed '"
                        + marker.get() + "'; console ends with: " + tail(text));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(name + " did not print '" + marker.get() + "' within "
                        + bootTimeout().toSeconds() + " s; console ends with: " + tail(text));
            }
            Thread.sleep(100);
        }
    }

    /** What the console printed after {@code offset}: at most 1 MiB of it, so a flooding guest cannot fill the heap. */
    private String consoleAfter(String name, long offset) {
        try {
            Path log = zones.consoleLog(name);
            long from = Files.exists(log) && Files.size(log) >= offset ? offset : 0; // shorter: rotated
            return new String(FileTail.readFrom(log, from, CONSOLE_READ_LIMIT), StandardCharsets.ISO_8859_1);
        } catch (ZoneException | IOException e) {
            return "";
        }
    }

    private static String tail(String text) {
        List<String> lines = text.lines().filter(l -> !l.isBlank()).collect(Collectors.toList());
        return lines.isEmpty() ? "(nothing)" : String.join(" | ", lines.subList(Math.max(0, lines.size() - 5),
                lines.size()));
    }

    // ------------------------------------------------------------------------------------------- zone folders

    /**
     * The zone's folder, {@code <state>/zones/NAME}, when zone-core's {@link StateLocation} says where its state is
     * and the folder is there; empty otherwise (the folder checks are then left out).
     */
    public Optional<Path> zoneFolder(String name) {
        if (stateDir == null) {
            return Optional.empty();
        }
        Path p = stateDir.resolve("zones").resolve(name);
        return Files.isDirectory(p) ? Optional.of(p) : Optional.empty();
    }

    /** Where the zone's folder would be, whether it exists or not; empty when the state directory is unknown. */
    Optional<Path> expectedZoneFolder(String name) {
        return stateDir == null ? Optional.empty() : Optional.of(stateDir.resolve("zones").resolve(name));
    }

    /** The files under the zone's folder, relative to it; empty when it has none or is unknown. */
    public Set<String> folderListing(String name) {
        Optional<Path> dir = zoneFolder(name);
        if (dir.isEmpty()) {
            return Set.of();
        }
        try (Stream<Path> s = Files.walk(dir.get())) {
            return s.filter(p -> !p.equals(dir.get())).map(p -> dir.get().relativize(p).toString())
                    .collect(Collectors.toCollection(TreeSet::new));
        } catch (IOException e) {
            throw new AssertionError("cannot list " + dir.get() + ": " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------------ processes

    /**
     * The host processes of a zone now: the recorded pid with its descendants, and every process whose command line
     * names the zone's id or folder. Each is remembered and ended after the scenario if it is still there.
     */
    public List<ProcessHandle> guestProcesses(ZoneInfo z) {
        Map<Long, ProcessHandle> all = new LinkedHashMap<>();
        pid(z).ifPresent(pid -> HostProcesses.treeOf(pid).forEach(p -> all.putIfAbsent(p.pid(), p)));
        HostProcesses.naming(needles(z)).forEach(p -> all.putIfAbsent(p.pid(), p));
        all.values().forEach(p -> guests.putIfAbsent(p.pid(), p));
        return new ArrayList<>(all.values());
    }

    private void remember(ZoneInfo z) {
        guestProcesses(z);
    }

    private List<String> needles(ZoneInfo z) {
        List<String> n = new ArrayList<>();
        n.add(z.id().toString());
        expectedZoneFolder(z.name()).ifPresent(p -> n.add(p.toString() + "/"));
        return n;
    }

    /** Describes processes for a step: {@code 1234 qemu-system-x86_64 ...; 1240 swtpm ...}. */
    public static String describe(Collection<ProcessHandle> processes) {
        return processes.isEmpty() ? "none" : processes.stream().map(HostProcesses::describe)
                .collect(Collectors.joining("; "));
    }

    /**
     * Fails unless every one of {@code processes} has ended, waiting up to the stop grace plus the boot timeout
     * for them to go (ending a guest takes a moment), and unless no other process names the zone any more.
     */
    public void requireNoGuestProcesses(ZoneInfo z, Collection<ProcessHandle> processes, String when)
            throws InterruptedException {
        long deadline = System.nanoTime() + stopGrace().plus(bootTimeout()).toNanos();
        List<ProcessHandle> left;
        while (true) {
            left = new ArrayList<>(processes.stream().filter(HostProcesses::alive).toList());
            for (ProcessHandle p : HostProcesses.naming(needles(z))) {
                if (left.stream().noneMatch(q -> q.pid() == p.pid())) {
                    left.add(p);
                }
            }
            if (left.isEmpty() || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(100);
        }
        left.forEach(p -> guests.putIfAbsent(p.pid(), p));
        require(left.isEmpty(), when + ", these processes of zone " + z.name() + " still run: " + describe(left));
    }

    // --------------------------------------------------------------------------------------------------- driver

    /** The service zone-core uses for this type: the highest ranking, then the oldest. */
    public Optional<ServiceReference<HypervisorDriver>> driverReference() {
        return driverReference(context, driverType());
    }

    static Optional<ServiceReference<HypervisorDriver>> driverReference(BundleContext context, String type) {
        try {
            return context.getServiceReferences(HypervisorDriver.class, "(" + HypervisorDriver.TYPE_PROPERTY + "="
                    + type + ")").stream().max(Comparator.naturalOrder());
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("driver type '" + type + "' cannot be used in a service filter", e);
        }
    }

    /** What the driver says it can do, asked directly. */
    public Capabilities capabilities() {
        ServiceReference<HypervisorDriver> ref = driverReference().orElseThrow(() -> new AssertionError(
                "no '" + driverType() + "' driver is registered"));
        HypervisorDriver d = context.getService(ref);
        require(d != null, "the '" + driverType() + "' driver service went away");
        try {
            return d.capabilities();
        } finally {
            context.ungetService(ref);
        }
    }

    // -------------------------------------------------------------------------------------------------- cleanup

    /**
     * Destroys the zones this run made that still exist and ends guest processes that outlived them. Returns what
     * it had to clean up that should not have been there: a scenario that passed but left this is failed.
     */
    List<String> cleanUp() {
        List<String> problems = new ArrayList<>();
        for (String name : made) {
            Optional<ZoneInfo> z = zones.get(name);
            if (z.isEmpty()) {
                continue;
            }
            guestProcesses(z.get());
            try {
                zones.destroy(name);
                step("cleanup: destroyed " + name + " (it was " + z.get().state() + ")");
            } catch (ZoneException | RuntimeException e) {
                problems.add("zone " + name + " could not be destroyed: " + e.getMessage());
            }
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (guests.values().stream().anyMatch(HostProcesses::alive) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (ProcessHandle p : guests.values()) {
            if (HostProcesses.alive(p)) {
                String what = HostProcesses.describe(p);
                p.destroyForcibly();
                problems.add("process " + what + " outlived its zone; the kit killed it");
            }
        }
        problems.forEach(p -> step("cleanup: " + p));
        return problems;
    }
}

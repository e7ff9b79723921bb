package io.zonekeeper.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneEvent;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneListener;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.json.SpecJson;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.core.store.ZoneStore;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.ConsoleAccess;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;
import io.zonekeeper.spi.ZoneResourceProvider;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.PreparedDevice;

/**
 * The zone registry: zones in memory backed by the {@link ZoneStore}, the bound drivers, and the reconciler that
 * hands zones to a driver whenever one (re)appears. Plain Java so that its logic is testable without a framework;
 * {@link ZoneManagerComponent} wires it into OSGi.
 *
 * <p>Locking: each zone has an operation lock, held for a whole start/stop/destroy/adoption so that a driver
 * never sees two calls for one zone at once, and its own monitor, held only to change its record, so that a
 * driver's {@link ZoneContext#report} from a watcher thread never waits for a long operation.
 */
public class ZoneRegistry implements ZoneManager {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");
    private static final Set<ZoneState> STARTABLE = EnumSet.of(ZoneState.DEFINED, ZoneState.STOPPED,
            ZoneState.CRASHED);

    private final Map<String, Zone> zones = new ConcurrentHashMap<>();
    private final Map<String, List<DriverBinding>> drivers = new TreeMap<>();
    private final List<ZoneListener> listeners = new CopyOnWriteArrayList<>();
    private final List<ZoneStore.Quarantined> quarantined = new CopyOnWriteArrayList<>();
    private final Object createLock = new Object();
    private ZoneStore store;
    private Path declaredZonesDir;
    private Path stateDir;
    private Path driverRepository = Path.of(System.getProperty("user.home"), ".m2", "repository");
    private Duration driverWait = Duration.ofSeconds(15);
    private Duration defaultGrace = Duration.ofSeconds(30);
    private ExecutorService reconciler;
    private ExecutorService events;
    private volatile boolean open;
    /** Driver types under a trial (an upgrade): a refused adoption leaves the zone as it is, for a rollback. */
    private final Set<String> trials = ConcurrentHashMap.newKeySet();
    private final Map<String, String> trialRefusals = new ConcurrentHashMap<>();
    /** Host resource providers (networks, disks), by kind; the first bound of a kind is used. */
    private final Map<ResourceKind, List<ZoneResourceProvider>> providers = new java.util.EnumMap<>(
            ResourceKind.class);
    /** Device backends by the device type they serve; the first bound of a type is used. Guarded by providers. */
    private final Map<String, List<DeviceBackend>> deviceBackends = new java.util.TreeMap<>();
    /** Pairs zone-to-zone channels; made in {@link #open}, under the state directory. */
    private ChannelBroker channelBroker;

    /** One zone in memory. */
    final class Zone {
        final ReentrantLock operation = new ReentrantLock();
        private ZoneRecord record;
        /** The driver binding that adopted or started this zone's guest, or null while none has. */
        private DriverBinding attachedTo;
        /** What the resource providers prepared for the current start. */
        private volatile PreparedResources prepared = PreparedResources.NONE;

        Zone(ZoneRecord record) {
            this.record = record;
        }

        synchronized ZoneRecord record() {
            return record;
        }

        synchronized DriverBinding attachedTo() {
            return attachedTo;
        }

        synchronized void attach(DriverBinding binding) {
            attachedTo = binding;
        }

        String name() {
            return record().spec().name();
        }

        /** Changes the record durably, then tells listeners. */
        void change(java.util.function.UnaryOperator<ZoneRecord> how) {
            ZoneRecord before;
            ZoneRecord after;
            synchronized (this) {
                before = record;
                after = how.apply(before);
                if (after.equals(before)) {
                    return;
                }
                try {
                    store.update(after);
                } catch (IOException e) {
                    LOG.log(Level.ERROR, "could not store zone " + after.spec().name() + ": " + e.getMessage());
                }
                record = after;
                notifyAll();
            }
            if (before.state().isActive() && !after.state().isActive()) {
                // Stopped, crashed, or a start undone: whatever ends a guest gives back its taps, leases and locks.
                releaseResources(this);
            }
            if (before.state() != after.state()) {
                publish(new ZoneEvent(after.spec().name(), before.state(), after.state(), after.reason(),
                        Instant.now()));
            }
        }

        void setState(ZoneState state, String reason) {
            change(r -> r.withState(state, reason));
        }

        ZoneContext context(DriverBinding binding) {
            return new Context(this, binding);
        }
    }

    /** What a driver sees of a zone; reports from a driver that no longer holds the zone are ignored. */
    private final class Context implements ZoneContext {
        private final Zone zone;
        private final DriverBinding binding;

        Context(Zone zone, DriverBinding binding) {
            this.zone = zone;
            this.binding = binding;
        }

        @Override
        public UUID id() {
            return zone.record().id();
        }

        @Override
        public String name() {
            return zone.name();
        }

        @Override
        public ZoneSpec spec() {
            return zone.record().spec();
        }

        @Override
        public Path directory() {
            return store.zoneDirectory(zone.name());
        }

        @Override
        public Optional<RuntimeRecord> runtime() {
            try {
                return store.loadRuntime(zone.name());
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "runtime record of zone " + zone.name() + " is unreadable: " + e.getMessage());
                return Optional.empty();
            }
        }

        @Override
        public void saveRuntime(RuntimeRecord record) {
            try {
                store.saveRuntime(zone.name(), record);
            } catch (IOException e) {
                throw new IllegalStateException("could not store the runtime record of zone " + zone.name()
                        + ": " + e.getMessage(), e);
            }
        }

        @Override
        public void report(ZoneState state, String reason) {
            DriverBinding holder = zone.attachedTo();
            if (holder != null && holder != binding) {
                return;
            }
            ZoneState current = zone.record().state();
            if (current == state || (!current.isActive() && state.isActive())) {
                // A stale "running" from a watcher after the zone stopped must not resurrect it.
                return;
            }
            LOG.log(Level.INFO, "zone " + zone.name() + " is " + state + (reason.isEmpty() ? "" : ": " + reason));
            zone.setState(state, reason);
        }

        @Override
        public PreparedResources resources() {
            return zone.prepared;
        }
    }

    // ---- life of the registry ----

    /** Loads the store and starts reconciling. Drivers bound before this call are reconciled now. */
    public void open(Path stateDir, Path declaredZonesDir, Duration driverWait, Duration defaultGrace)
            throws IOException {
        this.stateDir = stateDir;
        this.store = new ZoneStore(stateDir);
        this.channelBroker = new ChannelBroker(stateDir.resolve("channels"));
        this.declaredZonesDir = declaredZonesDir;
        this.driverWait = driverWait;
        this.defaultGrace = defaultGrace;
        this.reconciler = Executors.newSingleThreadExecutor(r -> daemon(r, "zonekeeper-reconciler"));
        this.events = Executors.newSingleThreadExecutor(r -> daemon(r, "zonekeeper-events"));
        List<ZoneStore.Quarantined> bad = new ArrayList<>();
        for (ZoneRecord r : store.loadAll(bad)) {
            zones.put(r.spec().name(), new Zone(r));
        }
        for (ZoneStore.Quarantined q : bad) {
            LOG.log(Level.ERROR, "zone " + q.name() + " could not be read (" + q.problem() + "); moved to "
                    + q.movedTo());
        }
        quarantined.addAll(bad);
        loadDeclaredZones();
        open = true;
        for (String type : driverTypes()) {
            scheduleReconcile(type);
        }
        List<ZoneResourceProvider> present;
        synchronized (providers) {
            present = providers.values().stream().flatMap(List::stream).collect(Collectors.toList());
        }
        for (ZoneResourceProvider p : present) {
            reconciler.execute(() -> reconcileResources(p));
        }
    }

    /** Stops reconciling. Guests keep running: nothing is stopped here. */
    public void close() {
        open = false;
        if (reconciler != null) {
            reconciler.shutdownNow();
            events.shutdown();
            try {
                reconciler.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    // ---- drivers come and go ----

    /** Binds a driver without a framework: for embedders, benchmarks and tests. */
    public void addDriver(HypervisorDriver driver, String bundle, String version) {
        addDriver(new DriverBinding(driver, bundle, version, System.identityHashCode(driver)));
    }

    void addDriver(DriverBinding binding) {
        synchronized (drivers) {
            List<DriverBinding> list = drivers.computeIfAbsent(binding.type, t -> new ArrayList<>());
            list.add(binding);
            list.sort(Comparator.comparingInt((DriverBinding b) -> -b.ranking).thenComparingLong(b -> b.serviceId));
            drivers.notifyAll();
        }
        LOG.log(Level.INFO, "driver " + binding.type + " bound (" + binding.describe() + ")");
        if (open) {
            scheduleReconcile(binding.type);
        }
    }

    public void removeDriver(HypervisorDriver driver) {
        DriverBinding gone = null;
        synchronized (drivers) {
            for (List<DriverBinding> list : drivers.values()) {
                for (DriverBinding b : list) {
                    if (b.driver == driver) {
                        gone = b;
                    }
                }
                list.removeIf(b -> b.driver == driver);
            }
            drivers.values().removeIf(List::isEmpty);
        }
        if (gone == null) {
            return;
        }
        // The zones stay as they are (RUNNING stays RUNNING); they are only detached until a driver comes back.
        for (Zone z : zones.values()) {
            synchronized (z) {
                if (z.attachedTo == gone) {
                    z.attachedTo = null;
                }
            }
        }
        LOG.log(Level.INFO, "driver " + gone.type + " (" + gone.describe() + ") left; its zones keep running");
        if (open) {
            scheduleReconcile(gone.type);
        }
    }

    List<String> driverTypes() {
        synchronized (drivers) {
            return new ArrayList<>(drivers.keySet());
        }
    }

    DriverBinding activeDriver(String type) {
        synchronized (drivers) {
            List<DriverBinding> list = drivers.get(type);
            return list == null || list.isEmpty() ? null : list.get(0);
        }
    }

    /** What the shell shows about a bound driver. */
    public record DriverView(String type, String bundle, String version, boolean active,
            Capabilities capabilities) {
    }

    /** Every bound driver, the active one of each type first. */
    public List<DriverView> drivers() {
        List<DriverBinding> all;
        synchronized (drivers) {
            all = drivers.values().stream().flatMap(List::stream).collect(Collectors.toList());
        }
        List<DriverView> views = new ArrayList<>();
        for (DriverBinding b : all) {
            Capabilities caps;
            try {
                caps = b.driver.capabilities();
            } catch (RuntimeException e) {
                caps = new Capabilities(Set.of(), 0, 0, Map.of("error", e.toString()));
            }
            views.add(new DriverView(b.type, b.bundle, b.version, b == activeDriver(b.type), caps));
        }
        return views;
    }

    private DriverBinding awaitDriver(String type, String why) throws ZoneException {
        long deadline = System.nanoTime() + driverWait.toNanos();
        synchronized (drivers) {
            while (true) {
                DriverBinding b = activeDriver(type);
                if (b != null) {
                    return b;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new ZoneException(why + ": no '" + type + "' driver is bound (waited "
                            + driverWait.toSeconds() + " s). Check driver:list; if the driver is being upgraded, "
                            + "try again in a moment");
                }
                try {
                    drivers.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ZoneException(why + ": interrupted while waiting for driver " + type);
                }
            }
        }
    }

    // ---- the reconciler ----

    private void scheduleReconcile(String type) {
        try {
            reconciler.execute(() -> reconcile(type));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // Closing: the next open reconciles everything anyway.
        }
    }

    /** Hands the zones of {@code type} to its active driver, and starts declared zones that should run. */
    void reconcile(String type) {
        DriverBinding binding = activeDriver(type);
        if (binding == null) {
            return;
        }
        for (Zone z : zones.values()) {
            ZoneRecord r = z.record();
            boolean mine = type.equals(r.driver()) || (r.driver() == null && type.equals(r.spec().hypervisor()));
            try {
                if (mine && r.state().isActive()) {
                    z.operation.lock();
                    try {
                        ensureAttached(z);
                    } finally {
                        z.operation.unlock();
                    }
                } else if (r.desiredRunning() && STARTABLE.contains(r.state()) && r.state() != ZoneState.CRASHED
                        && (mine || r.spec().hypervisor() == null)) {
                    LOG.log(Level.INFO, "starting declared zone " + r.spec().name() + " on " + type);
                    start(r.spec().name());
                }
            } catch (ZoneException | RuntimeException e) {
                LOG.log(Level.WARNING, "reconciling zone " + r.spec().name() + ": " + e.getMessage());
            }
        }
    }

    /**
     * Makes sure the zone's guest is held by its driver's active binding: adopts it by proof if another binding
     * (or none) held it. Call with the zone's operation lock held. Returns the binding, or null for a zone with
     * no active guest.
     */
    private DriverBinding ensureAttached(Zone z) throws ZoneException {
        ZoneRecord r = z.record();
        if (!r.state().isActive() || r.driver() == null) {
            return null;
        }
        DriverBinding binding = awaitDriver(r.driver(), "zone " + r.spec().name() + " runs under driver "
                + r.driver());
        if (z.attachedTo() == binding) {
            return binding;
        }
        Adoption a;
        try {
            a = binding.driver.adopt(z.context(binding));
        } catch (RuntimeException e) {
            a = Adoption.refused("the driver failed while adopting: " + e);
        }
        if (a.adopted()) {
            z.attach(binding);
            z.setState(a.state(), "adopted by " + binding.describe());
            LOG.log(Level.INFO, "zone " + r.spec().name() + " adopted by " + binding.describe());
            return binding;
        }
        z.attach(null);
        if (trials.contains(r.driver())) {
            trialRefusals.put(r.spec().name(), a.reason());
            LOG.log(Level.WARNING, "zone " + r.spec().name() + " was not adopted by " + binding.describe() + ": "
                    + a.reason() + " (left as it is: the driver is on trial)");
            return null;
        }
        z.setState(ZoneState.CRASHED, "not adopted: " + a.reason());
        LOG.log(Level.WARNING, "zone " + r.spec().name() + " was not adopted: " + a.reason());
        return null;
    }

    /**
     * Puts a driver type on trial: until {@link #endTrial}, a zone its driver refuses to adopt keeps its state,
     * so that the previous driver can take it back.
     */
    void beginTrial(String type) {
        trials.add(type);
        trialRefusals.clear();
    }

    void endTrial(String type) {
        trials.remove(type);
    }

    /**
     * Hands every active zone of {@code type} to the driver's active binding now, on the caller's thread, and
     * returns the zones that were refused with the reasons (only meaningful during a trial).
     */
    Map<String, String> adoptAllNow(String type) {
        Map<String, String> refused = new TreeMap<>();
        for (Zone z : zones.values()) {
            ZoneRecord r = z.record();
            if (!type.equals(r.driver()) || !r.state().isActive()) {
                continue;
            }
            trialRefusals.remove(r.spec().name());
            try {
                if (!z.operation.tryLock(driverWait.toMillis(), TimeUnit.MILLISECONDS)) {
                    refused.put(r.spec().name(), "another operation on the zone did not finish");
                    continue;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                refused.put(r.spec().name(), "interrupted");
                continue;
            }
            try {
                if (ensureAttached(z) == null && trialRefusals.containsKey(r.spec().name())) {
                    refused.put(r.spec().name(), trialRefusals.get(r.spec().name()));
                }
            } catch (ZoneException | RuntimeException e) {
                refused.put(r.spec().name(), e.getMessage());
            } finally {
                z.operation.unlock();
            }
        }
        return refused;
    }

    /** Waits until a binding of {@code type} from a bundle of {@code version} is bound; null on timeout. */
    DriverBinding awaitBinding(String type, java.util.function.Predicate<DriverBinding> which, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (drivers) {
            while (true) {
                DriverBinding b = activeDriver(type);
                if (b != null && which.test(b)) {
                    return b;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                try {
                    drivers.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
        }
    }

    /** Where driver:upgrade finds group:artifact:version coordinates (a Maven repository layout). */
    public void setDriverRepository(Path repository) {
        this.driverRepository = repository;
    }

    /** Replaces driver {@code type}'s bundle with {@code source} while its zones run; see {@link DriverUpgrader}. */
    public DriverUpgrader.Outcome upgradeDriver(org.osgi.framework.BundleContext context, String type, String source,
            Duration timeout, java.util.function.Consumer<String> progress) throws ZoneException {
        synchronized (trials) {
            return new DriverUpgrader(context, this, stateDir, driverRepository, timeout).upgrade(type, source,
                    progress);
        }
    }

    public DriverUpgrader.Outcome rollbackDriver(org.osgi.framework.BundleContext context, String type,
            Duration timeout, java.util.function.Consumer<String> progress) throws ZoneException {
        synchronized (trials) {
            return new DriverUpgrader(context, this, stateDir, driverRepository, timeout).rollback(type, progress);
        }
    }

    // ---- declared zones (firmware: etc/zones/*.json) ----

    private void loadDeclaredZones() {
        if (declaredZonesDir == null || !Files.isDirectory(declaredZonesDir)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(declaredZonesDir, "*.json")) {
            for (Path f : files) {
                try {
                    ZoneSpec spec = SpecJson.parse(Files.readString(f, StandardCharsets.UTF_8));
                    Zone existing = zones.get(spec.name());
                    if (existing == null) {
                        createZone(spec, true);
                        LOG.log(Level.INFO, "declared zone " + spec.name() + " created from " + f);
                    } else if (!existing.record().spec().equals(spec)) {
                        LOG.log(Level.WARNING, "declared zone " + spec.name() + " in " + f + " differs from the "
                                + "stored one; the stored spec is kept (destroy the zone to take the new one)");
                    }
                } catch (InvalidSpecException e) {
                    LOG.log(Level.ERROR, "declared zone file " + f + " is refused: " + e.getMessage());
                } catch (IOException | ZoneException e) {
                    LOG.log(Level.ERROR, "declared zone file " + f + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.log(Level.ERROR, "cannot read declared zones in " + declaredZonesDir + ": " + e.getMessage());
        }
    }

    // ---- ZoneManager ----

    @Override
    public ZoneInfo create(ZoneSpec spec) throws ZoneException {
        spec.requireValid();
        checkDevices(spec);
        return info(createZone(spec, false));
    }

    private Zone createZone(ZoneSpec spec, boolean desiredRunning) throws ZoneException {
        synchronized (createLock) {
            if (zones.containsKey(spec.name())) {
                throw new ZoneException("zone " + spec.name() + " exists already; pick another name or destroy it "
                        + "first");
            }
            ZoneRecord record = new ZoneRecord(UUID.randomUUID(), spec, ZoneState.DEFINED, "created",
                    Instant.now(), null, desiredRunning);
            try {
                store.create(record);
            } catch (IOException e) {
                throw new ZoneException("could not store zone " + spec.name() + ": " + e.getMessage(), e);
            }
            Zone z = new Zone(record);
            zones.put(spec.name(), z);
            publish(new ZoneEvent(spec.name(), null, ZoneState.DEFINED, "created", Instant.now()));
            return z;
        }
    }

    @Override
    public ZoneInfo start(String name) throws ZoneException {
        Zone z = zone(name);
        lock(z, "start");
        try {
            ZoneRecord r = z.record();
            if (!STARTABLE.contains(r.state())) {
                throw new ZoneException("zone " + name + " is " + r.state() + "; only a DEFINED, STOPPED or "
                        + "CRASHED zone can be started");
            }
            DriverBinding binding = chooseDriver(r.spec());
            checkFits(r.spec(), binding);
            ZoneState before = r.state();
            String beforeReason = r.reason();
            // Pairing changes nothing on the host, so a channel that is not named back is refused before any tap.
            List<io.zonekeeper.spi.PreparedChannel> channels = channelBroker.prepare(name, binding.type, parties());
            // All or nothing: a provider that fails has undone its part, and those before it are released here.
            z.prepared = prepareResources(r.id(), r.spec()).plus(new PreparedResources(List.of(), List.of(),
                    List.of(), channels));
            z.change(x -> x.withDriver(binding.type).withDesiredRunning(true).withState(ZoneState.STARTING,
                    "starting on " + binding.describe()));
            z.attach(binding);
            try {
                binding.driver.start(z.context(binding));
            } catch (DriverException | RuntimeException | LinkageError e) {
                // LinkageError: a driver bundle missing a class must not leave the zone half-started.
                z.attach(null);
                // The driver left nothing behind: the zone is as it was before the attempt.
                z.change(x -> x.withDriver(r.driver()).withDesiredRunning(r.desiredRunning()).withState(before,
                        beforeReason));
                try {
                    store.clearRuntime(name);
                } catch (IOException ignored) {
                    // Nothing ran, so a stale runtime record is harmless.
                }
                throw new ZoneException("zone " + name + " did not start on " + binding.type + ": "
                        + (e instanceof LinkageError ? "the driver bundle is broken (" + e + ")" : e.getMessage()), e);
            }
            if (z.record().state() == ZoneState.STARTING) {
                z.setState(ZoneState.RUNNING, "started on " + binding.describe());
            }
            return info(z);
        } finally {
            z.operation.unlock();
        }
    }

    @Override
    public ZoneInfo stop(String name, Duration grace) throws ZoneException {
        Zone z = zone(name);
        lock(z, "stop");
        try {
            ZoneRecord r = z.record();
            if (!r.state().isActive()) {
                throw new ZoneException("zone " + name + " is " + r.state() + "; there is nothing to stop");
            }
            DriverBinding binding = ensureAttached(z);
            if (binding == null) {
                return info(z);
            }
            z.change(x -> x.withDesiredRunning(false).withState(ZoneState.STOPPING, "stop requested"));
            try {
                binding.driver.stop(z.context(binding), grace == null ? defaultGrace : grace);
            } catch (DriverException | RuntimeException e) {
                ZoneState seen = safeObserve(binding, z);
                z.setState(seen, "stop failed: " + e.getMessage());
                throw new ZoneException("zone " + name + " did not stop: " + e.getMessage(), e);
            }
            z.setState(ZoneState.STOPPED, "stopped");
            clearRuntime(name);
            return info(z);
        } finally {
            z.operation.unlock();
        }
    }

    @Override
    public void destroy(String name) throws ZoneException {
        Zone z = zone(name);
        lock(z, "destroy");
        try {
            ZoneRecord r = z.record();
            if (r.state().isActive()) {
                DriverBinding binding = ensureAttached(z);
                if (binding != null) {
                    try {
                        binding.driver.kill(z.context(binding));
                    } catch (DriverException | RuntimeException e) {
                        throw new ZoneException("zone " + name + " could not be ended, so it was kept: "
                                + e.getMessage(), e);
                    }
                }
            } else if (r.driver() != null && activeDriver(r.driver()) != null) {
                // Let the driver remove sockets and files a crashed guest may have left.
                DriverBinding binding = activeDriver(r.driver());
                try {
                    binding.driver.kill(z.context(binding));
                } catch (DriverException | RuntimeException e) {
                    LOG.log(Level.WARNING, "cleanup of zone " + name + ": " + e.getMessage());
                }
            }
            try {
                store.delete(name);
            } catch (IOException e) {
                throw new ZoneException("zone " + name + " was ended but its folder could not be removed: "
                        + e.getMessage(), e);
            }
            zones.remove(name);
            z.attach(null);
            releaseResources(z);
            channelBroker.forget(name, r.spec());
            publish(new ZoneEvent(name, r.state(), null, "destroyed", Instant.now()));
        } finally {
            z.operation.unlock();
        }
    }

    /** Pauses or resumes a zone, for drivers that can. */
    public ZoneInfo pause(String name, boolean pause) throws ZoneException {
        Zone z = zone(name);
        lock(z, pause ? "pause" : "resume");
        try {
            ZoneState want = pause ? ZoneState.RUNNING : ZoneState.PAUSED;
            if (z.record().state() != want) {
                throw new ZoneException("zone " + name + " is " + z.record().state() + "; only a " + want
                        + " zone can be " + (pause ? "paused" : "resumed"));
            }
            DriverBinding binding = ensureAttached(z);
            if (!(binding.driver instanceof io.zonekeeper.spi.PausableDriver p)) {
                throw new ZoneException("driver " + binding.describe() + " cannot pause zones");
            }
            if (pause) {
                p.pause(z.context(binding));
            } else {
                p.resume(z.context(binding));
            }
            z.setState(pause ? ZoneState.PAUSED : ZoneState.RUNNING, pause ? "paused" : "resumed");
            return info(z);
        } finally {
            z.operation.unlock();
        }
    }

    @Override
    public Optional<ZoneInfo> get(String name) {
        Zone z = zones.get(name);
        return z == null ? Optional.empty() : Optional.of(info(z));
    }

    @Override
    public List<ZoneInfo> list() {
        return zones.values().stream().map(this::info).sorted(Comparator.comparing(ZoneInfo::name))
                .collect(Collectors.toList());
    }

    @Override
    public ZoneInfo await(String name, Set<ZoneState> states, Duration timeout) throws ZoneException {
        Zone z = zone(name);
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (z) {
            while (!states.contains(z.record.state())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new ZoneException("zone " + name + " is still " + z.record.state() + " after "
                            + timeout.toSeconds() + " s (waited for " + states + ")");
                }
                if (!zones.containsKey(name)) {
                    throw new ZoneException("zone " + name + " was destroyed while waiting");
                }
                try {
                    z.wait(Math.max(1, Math.min(500, TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ZoneException("interrupted while waiting for zone " + name);
                }
            }
        }
        return info(z);
    }

    @Override
    public Path consoleLog(String name) throws ZoneException {
        Zone z = zone(name);
        String type = z.record().driver();
        DriverBinding binding = type == null ? null : activeDriver(type);
        if (binding != null && binding.driver instanceof ConsoleAccess c) {
            return c.consoleLog(z.context(binding));
        }
        // With the driver away the log is still where the driver recorded it.
        Optional<RuntimeRecord> rt = z.context(null).runtime();
        if (rt.isPresent() && rt.get().get("consoleLog").isPresent()) {
            return Path.of(rt.get().get("consoleLog").get());
        }
        return store.zoneDirectory(name).resolve("console.log");
    }

    /** Opens an interactive console on a running zone. */
    public java.nio.channels.ByteChannel attachConsole(String name) throws ZoneException {
        Zone z = zone(name);
        lock(z, "attach to the console of");
        try {
            if (!z.record().state().isActive()) {
                throw new ZoneException("zone " + name + " is " + z.record().state() + "; zone:logs " + name
                        + " shows what it printed");
            }
            DriverBinding binding = ensureAttached(z);
            if (binding == null || !(binding.driver instanceof ConsoleAccess c)) {
                throw new ZoneException("the driver of zone " + name + " has no interactive console");
            }
            return c.attachConsole(z.context(binding));
        } finally {
            z.operation.unlock();
        }
    }

    // ---- channels ----

    /** Every channel the specs name, with both ends, their states and what each guest reported it moved. */
    public List<ChannelBroker.Channel> channels() {
        return channelBroker.channels(parties(), zone -> {
            try {
                return ChannelCounters.fromConsoleLog(consoleLog(zone), zone);
            } catch (ZoneException e) {
                return Map.of(); // destroyed meanwhile
            }
        });
    }

    /** What the channel broker needs to know of every zone, now. */
    private Map<String, ChannelBroker.Party> parties() {
        Map<String, ChannelBroker.Party> m = new TreeMap<>();
        for (Zone z : zones.values()) {
            ZoneRecord r = z.record();
            m.put(r.spec().name(), new ChannelBroker.Party(r.spec().name(), r.spec(), r.state(), r.driver()));
        }
        return m;
    }

    /** Zone folders that could not be read at start-up and were set aside. */
    public List<ZoneStore.Quarantined> quarantined() {
        return List.copyOf(quarantined);
    }

    /** The directory of a zone (its spec, runtime record and console log). */
    public Path zoneDirectory(String name) throws ZoneException {
        zone(name);
        return store.zoneDirectory(name);
    }

    // ---- host resources (networks, disks) ----

    public void addResourceProvider(ZoneResourceProvider provider) {
        synchronized (providers) {
            providers.computeIfAbsent(provider.kind(), k -> new ArrayList<>()).add(provider);
            providers.notifyAll();
        }
        if (open) {
            try {
                reconciler.execute(() -> reconcileResources(provider));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // Closing.
            }
        }
    }

    public void removeResourceProvider(ZoneResourceProvider provider) {
        synchronized (providers) {
            providers.values().forEach(l -> l.remove(provider));
        }
    }

    private ZoneResourceProvider provider(ResourceKind kind) {
        synchronized (providers) {
            List<ZoneResourceProvider> l = providers.get(kind);
            return l == null || l.isEmpty() ? null : l.get(0);
        }
    }

    /**
     * A provider that comes (at start-up, say) may hold resources for zones that ended while it was away: the
     * appliance crashed, and the next one found the zone's guest gone before this provider registered, so the end
     * of the zone released nothing of this kind. Those are given back now, as the end would have, for every zone
     * this registry knows that does not run and that no operation holds; each is logged. What is left (resources
     * of zones this registry does not know, such as quarantined ones) is only reported: the operator decides.
     */
    private void reconcileResources(ZoneResourceProvider provider) {
        String kind = provider.kind().name().toLowerCase();
        List<String> before = orphansOf(provider);
        if (before.isEmpty()) {
            return;
        }
        for (Zone z : zones.values()) {
            if (z.record().state().isActive() || !z.operation.tryLock()) {
                continue; // a zone that runs keeps what it has; an operation on it settles its resources itself
            }
            try {
                ZoneRecord r = z.record();
                if (!r.state().isActive()) {
                    safeRelease(provider, r.id(), r.spec().name());
                }
            } finally {
                z.operation.unlock();
            }
        }
        List<String> after = orphansOf(provider);
        for (String o : before) {
            if (!after.contains(o)) {
                LOG.log(Level.WARNING, "released orphan " + kind + " resource: " + o);
            }
        }
        for (String o : after) {
            LOG.log(Level.WARNING, "orphan " + kind + " resource: " + o);
        }
    }

    /** What the provider holds for zones that do not run, or nothing when it fails to say. */
    private List<String> orphansOf(ZoneResourceProvider provider) {
        Set<UUID> active = zones.values().stream().map(Zone::record).filter(r -> r.state().isActive())
                .map(ZoneRecord::id).collect(Collectors.toSet());
        try {
            return provider.orphans(active);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the " + provider.kind() + " provider failed to list orphans: " + e);
            return List.of();
        }
    }

    private PreparedResources prepareResources(UUID id, ZoneSpec spec) throws ZoneException {
        List<ZoneResourceProvider> done = new ArrayList<>();
        List<DeviceBackend> doneDevices = new ArrayList<>();
        PreparedResources all = PreparedResources.NONE;
        try {
            for (ResourceKind kind : ResourceKind.values()) {
                boolean wanted = kind == ResourceKind.NETWORK ? !spec.networks().isEmpty() : !spec.disks().isEmpty();
                if (!wanted) {
                    continue;
                }
                ZoneResourceProvider p = awaitProvider(kind);
                if (p == null) {
                    String what = kind == ResourceKind.NETWORK ? "networks" : "disks";
                    throw new ZoneException("zone " + spec.name() + " names " + what + ", but no " + what
                            + " provider is installed (waited " + driverWait.toSeconds() + " s); install the "
                            + "zonekeeper-network feature");
                }
                PreparedResources got = p.prepare(id, spec);
                done.add(p);
                all = all.plus(got);
            }
            for (Map.Entry<String, List<DeviceBackend.IndexedDevice>> e : devicesByType(spec).entrySet()) {
                DeviceBackend backend = awaitDeviceBackend(e.getKey());
                if (backend == null) {
                    throw new ZoneException("zone " + spec.name() + " names " + e.getValue().get(0).field() + " of"
                            + " type " + e.getKey() + ", but no device backend for " + e.getKey() + " is installed"
                            + " (waited " + driverWait.toSeconds() + " s); install its bundle, or drop it into"
                            + " deploy/");
                }
                List<PreparedDevice> got = backend.prepare(id, spec.name(), store.zoneDirectory(spec.name()),
                        e.getValue());
                doneDevices.add(backend);
                all = all.plus(new PreparedResources(List.of(), List.of(), got, List.of()));
            }
            return all;
        } catch (ZoneException | RuntimeException e) {
            for (DeviceBackend b : doneDevices) {
                safeRelease(b, id, spec.name());
            }
            for (ZoneResourceProvider p : done) {
                safeRelease(p, id, spec.name());
            }
            if (e instanceof ZoneException ze) {
                throw ze;
            }
            throw new ZoneException("zone " + spec.name() + ": preparing its resources failed: " + e, e);
        }
    }

    private ZoneResourceProvider awaitProvider(ResourceKind kind) {
        long deadline = System.nanoTime() + driverWait.toNanos();
        synchronized (providers) {
            ZoneResourceProvider p;
            while ((p = provider(kind)) == null && System.nanoTime() < deadline) {
                try {
                    providers.wait(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return p;
        }
    }

    private void releaseResources(Zone z) {
        z.prepared = PreparedResources.NONE;
        ZoneRecord r = z.record();
        List<ZoneResourceProvider> all;
        synchronized (providers) {
            all = providers.values().stream().flatMap(List::stream).collect(Collectors.toList());
        }
        for (ZoneResourceProvider p : all) {
            safeRelease(p, r.id(), r.spec().name());
        }
        List<DeviceBackend> backends;
        synchronized (providers) {
            backends = deviceBackends.values().stream().flatMap(List::stream).collect(Collectors.toList());
        }
        for (DeviceBackend b : backends) {
            safeRelease(b, r.id(), r.spec().name());
        }
    }

    private static void safeRelease(DeviceBackend b, UUID id, String name) {
        try {
            b.release(id, name);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "releasing the " + b.type() + " devices of zone " + name + ": " + e);
        }
    }

    // ---- device backends (pci, tpm, ...) ----

    public void addDeviceBackend(DeviceBackend backend) {
        String type = backend.type();
        synchronized (providers) {
            deviceBackends.computeIfAbsent(type, k -> new ArrayList<>()).add(backend);
            providers.notifyAll();
        }
        LOG.log(Level.INFO, "device backend for " + type + " devices is available: " + backend.getClass().getName());
        if (open) {
            try {
                reconciler.execute(() -> reportOrphans(backend));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // Closing.
            }
        }
    }

    public void removeDeviceBackend(DeviceBackend backend) {
        synchronized (providers) {
            deviceBackends.values().forEach(l -> l.remove(backend));
        }
    }

    /** The device types that have a backend now, with the class serving each. */
    public Map<String, String> deviceBackends() {
        Map<String, String> m = new java.util.TreeMap<>();
        synchronized (providers) {
            deviceBackends.forEach((t, l) -> {
                if (!l.isEmpty()) {
                    m.put(t, l.get(0).getClass().getName());
                }
            });
        }
        return m;
    }

    private DeviceBackend deviceBackend(String type) {
        synchronized (providers) {
            List<DeviceBackend> l = deviceBackends.get(type);
            return l == null || l.isEmpty() ? null : l.get(0);
        }
    }

    private DeviceBackend awaitDeviceBackend(String type) {
        long deadline = System.nanoTime() + driverWait.toNanos();
        synchronized (providers) {
            DeviceBackend b;
            while ((b = deviceBackend(type)) == null && System.nanoTime() < deadline) {
                try {
                    providers.wait(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return b;
        }
    }

    private static Map<String, List<DeviceBackend.IndexedDevice>> devicesByType(ZoneSpec spec) {
        Map<String, List<DeviceBackend.IndexedDevice>> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < spec.devices().size(); i++) {
            var d = spec.devices().get(i);
            m.computeIfAbsent(d.type(), k -> new ArrayList<>()).add(new DeviceBackend.IndexedDevice(i, d));
        }
        return m;
    }

    /**
     * Lets each bound device backend check the spec's devices before anything is stored. A type without a backend
     * yet passes here (its bundle may come later); starting such a zone waits for it and then fails clearly.
     */
    private void checkDevices(ZoneSpec spec) throws ZoneException {
        List<io.zonekeeper.api.FieldError> errors = new ArrayList<>();
        for (Map.Entry<String, List<DeviceBackend.IndexedDevice>> e : devicesByType(spec).entrySet()) {
            DeviceBackend b = deviceBackend(e.getKey());
            if (b != null) {
                try {
                    errors.addAll(b.validate(e.getValue()));
                } catch (RuntimeException ex) {
                    errors.add(new io.zonekeeper.api.FieldError(e.getValue().get(0).field(), "the " + e.getKey()
                            + " device backend failed to check it: " + ex));
                }
            }
        }
        if (!errors.isEmpty()) {
            throw new io.zonekeeper.api.InvalidSpecException(errors);
        }
    }

    private void reportOrphans(DeviceBackend backend) {
        Set<UUID> active = zones.values().stream().map(Zone::record).filter(r -> r.state().isActive())
                .map(ZoneRecord::id).collect(Collectors.toSet());
        try {
            for (String orphan : backend.orphans(active)) {
                LOG.log(Level.WARNING, "orphan " + backend.type() + " device: " + orphan);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the " + backend.type() + " device backend failed to list orphans: " + e);
        }
    }

    private static void safeRelease(ZoneResourceProvider p, UUID id, String name) {
        try {
            p.release(id, name);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "releasing the " + p.kind() + " resources of zone " + name + ": " + e);
        }
    }

    // ---- helpers ----

    ZoneInfo info(Zone z) {
        ZoneRecord r;
        DriverBinding attached;
        synchronized (z) {
            r = z.record;
            attached = z.attachedTo;
        }
        Map<String, String> runtime = Map.of();
        if (r.state().isActive()) {
            runtime = z.context(null).runtime().map(RuntimeRecord::properties).orElse(Map.of());
        }
        boolean isAttached = attached != null && attached == activeDriver(attached.type);
        return new ZoneInfo(r.id(), r.spec(), r.state(), r.reason(), r.driver(), isAttached, runtime, r.since());
    }

    private Zone zone(String name) throws ZoneException {
        if (name == null || name.isEmpty()) {
            throw new ZoneException("a zone name is required");
        }
        Zone z = zones.get(name);
        if (z == null) {
            throw new ZoneException("no zone named '" + name + "'; zone:list shows the zones there are");
        }
        return z;
    }

    private void lock(Zone z, String what) throws ZoneException {
        try {
            if (!z.operation.tryLock(driverWait.toMillis() + defaultGrace.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new ZoneException("cannot " + what + " zone " + z.name() + ": another operation on it is "
                        + "still running");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ZoneException("interrupted while waiting to " + what + " zone " + z.name());
        }
        if (!zones.containsKey(z.name()) || zones.get(z.name()) != z) {
            z.operation.unlock();
            throw new ZoneException("zone " + z.name() + " was destroyed meanwhile");
        }
    }

    private DriverBinding chooseDriver(ZoneSpec spec) throws ZoneException {
        if (spec.hypervisor() != null) {
            return awaitDriver(spec.hypervisor(), "zone " + spec.name() + " asks for hypervisor "
                    + spec.hypervisor());
        }
        List<String> why = new ArrayList<>();
        long deadline = System.nanoTime() + driverWait.toNanos();
        do {
            why.clear();
            for (String type : driverTypes()) {
                DriverBinding b = activeDriver(type);
                if (b == null) {
                    continue;
                }
                String misfit = misfit(spec, b.driver.capabilities());
                if (misfit == null) {
                    return b;
                }
                why.add(type + ": " + misfit);
            }
            if (!why.isEmpty()) {
                break;
            }
            synchronized (drivers) {
                try {
                    drivers.wait(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        } while (System.nanoTime() < deadline);
        if (why.isEmpty()) {
            throw new ZoneException("no hypervisor driver is bound; install one (driver:list shows what is there)");
        }
        throw new ZoneException("no bound driver can run zone " + spec.name() + ": " + String.join("; ", why));
    }

    private static void checkFits(ZoneSpec spec, DriverBinding b) throws ZoneException {
        String misfit = misfit(spec, b.driver.capabilities());
        if (misfit != null) {
            throw new ZoneException("driver " + b.describe() + " cannot run zone " + spec.name() + ": " + misfit);
        }
    }

    /** Why the driver cannot run the spec, or null when it can. */
    static String misfit(ZoneSpec spec, Capabilities caps) {
        List<String> problems = new ArrayList<>();
        if (spec.vcpus() > caps.maxVcpus()) {
            problems.add("vcpus " + spec.vcpus() + " exceeds its maximum of " + caps.maxVcpus());
        }
        if (spec.memoryMiB() > caps.maxMemoryMiB()) {
            problems.add("memoryMiB " + spec.memoryMiB() + " exceeds the " + caps.maxMemoryMiB()
                    + " MiB it can give");
        }
        need(problems, caps, Feature.CHANNELS, !spec.channels().isEmpty(), "channels");
        spec.devices().stream().map(io.zonekeeper.api.DeviceSpec::type).distinct()
                .filter(t -> !caps.renders(t))
                .forEach(t -> problems.add("it does not render " + t + " devices"));
        need(problems, caps, Feature.NETWORK, !spec.networks().isEmpty(), "networks");
        need(problems, caps, Feature.DISK, !spec.disks().isEmpty(), "disks");
        return problems.isEmpty() ? null : String.join(", ", problems);
    }

    private static void need(List<String> problems, Capabilities caps, Feature f, boolean wanted, String field) {
        if (wanted && !caps.supports(f)) {
            problems.add("it does not support " + field);
        }
    }

    private ZoneState safeObserve(DriverBinding b, Zone z) {
        try {
            return b.driver.observe(z.context(b));
        } catch (RuntimeException e) {
            return z.record().state();
        }
    }

    private void clearRuntime(String name) {
        try {
            store.clearRuntime(name);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not remove the runtime record of zone " + name + ": " + e.getMessage());
        }
    }

    void addListener(ZoneListener l) {
        listeners.add(l);
    }

    void removeListener(ZoneListener l) {
        listeners.remove(l);
    }

    private void publish(ZoneEvent event) {
        if (events == null || listeners.isEmpty()) {
            return;
        }
        try {
            events.execute(() -> {
                for (ZoneListener l : listeners) {
                    try {
                        l.zoneChanged(event);
                    } catch (RuntimeException e) {
                        LOG.log(Level.WARNING, "zone listener " + l + " failed: " + e);
                    }
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // Closing.
        }
    }
}

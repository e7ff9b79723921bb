package io.zonekeeper.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneListener;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.store.ZoneStore;
import io.zonekeeper.hostio.GuestProcessScan;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.ZoneResourceProvider;

/**
 * The zone registry: the one face of the core. It puts together the parts that do the work and adds none of its
 * own: the zones in memory ({@link ZoneTable}, {@link Zone}), their life ({@link ZoneLifecycle}), the bound
 * drivers ({@link DriverBindings}), the reconciler that hands zones to a driver whenever one (re)appears
 * ({@link ZoneReconciler}), what zones hold on the host ({@link ZoneResources}), declared zones
 * ({@link DeclaredZones}) and consoles and channels ({@link ZoneConsoles}). Plain Java, so that its logic is
 * testable without a framework; {@link ZoneManagerComponent} wires it into OSGi and {@link DriverUpgrader} does
 * the framework's part of a driver upgrade.
 */
public class ZoneRegistry implements ZoneManager {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private final DriverBindings drivers = new DriverBindings();
    private final ZoneTable table;
    private final ZoneResources resources;
    private final ZoneReconciler reconciler;
    private final ZoneLifecycle lifecycle;
    private final ZoneConsoles consoles;
    private final List<DeclaredZoneFiles.Refused> refusedDeclarations = new CopyOnWriteArrayList<>();
    /** Held for a whole driver upgrade or rollback, so that two never overlap. */
    final Object upgrades = new Object();
    private Path stateDir;
    private Map<String, java.util.Set<String>> takeoverConsents = Map.of();
    private Path driverRepository = Path.of(System.getProperty("user.home"), ".m2", "repository");

    public ZoneRegistry() {
        this(GuestProcessScan.host());
    }

    /** A registry that reads the process table through {@code scan} (tests hand it a /proc of their own). */
    ZoneRegistry(GuestProcessScan scan) {
        table = new ZoneTable();
        resources = new ZoneResources(table, drivers, scan);
        // Whatever ends a guest (a stop, a crash, a start undone) gives back its taps, leases and locks.
        table.whenGuestEnds(resources::release);
        reconciler = new ZoneReconciler(table, drivers, name -> start(name), scan::pidsOf);
        lifecycle = new ZoneLifecycle(table, drivers, resources, reconciler);
        consoles = new ZoneConsoles(table, drivers, reconciler, lifecycle);
    }

    // ---- life of the registry ----

    /** Loads the store and starts reconciling. Drivers bound before this call are reconciled now. */
    public void open(Path stateDir, Path declaredZonesDir, Duration driverWait, Duration defaultGrace)
            throws IOException {
        this.stateDir = stateDir;
        ZoneStore store = new ZoneStore(stateDir);
        ChannelBroker channelBroker = new ChannelBroker(stateDir.resolve("channels"));
        drivers.driverWait(driverWait);
        drivers.settle(takeoverConsents);
        lifecycle.open(channelBroker, defaultGrace);
        consoles.open(channelBroker);
        reconciler.prepare();
        table.open(store);
        refusedDeclarations.addAll(new DeclaredZones(declaredZonesDir, table).load());
        reconciler.open();
        for (String type : drivers.types()) {
            reconciler.schedule(type);
        }
        for (ZoneResourceProvider p : resources.providers()) {
            reconciler.execute(() -> resources.reconcile(p));
        }
    }

    /** Stops reconciling. Guests keep running: nothing is stopped here. */
    public void close() {
        reconciler.close();
        resources.close();
        table.close();
        reconciler.awaitClosed();
    }

    // ---- drivers come and go ----

    /** Binds a driver without a framework: for embedders, benchmarks and tests. */
    public void addDriver(HypervisorDriver driver, String bundle, String version) {
        addDriver(new DriverBinding(driver, bundle, version, System.identityHashCode(driver)));
    }

    void addDriver(DriverBinding binding) {
        drivers.add(binding);
        if (reconciler.isOpen()) {
            reconciler.schedule(binding.type);
        }
    }

    public void removeDriver(HypervisorDriver driver) {
        DriverBinding gone = drivers.remove(driver);
        if (gone == null) {
            return;
        }
        // The zones stay as they are (RUNNING stays RUNNING); they are only detached until a driver comes back.
        for (Zone z : table.all()) {
            z.detachFrom(gone);
        }
        LOG.log(Level.INFO, "driver " + gone.type + " (" + gone.describe() + ") left; its zones keep running");
        if (reconciler.isOpen()) {
            reconciler.schedule(gone.type);
        }
    }

    /** Every bound driver, the active one of each type first. */
    public List<DriverView> drivers() {
        return drivers.views();
    }

    DriverBinding activeDriver(String type) {
        return drivers.active(type);
    }

    // ---- what a driver upgrade needs (see DriverUpgrader) ----

    /**
     * The operator's consents that a bundle may provide a driver type that another bundle provides already: the
     * {@code driver.takeover.TYPE = BUNDLE} keys of {@code config}. Takes effect at {@link #open}.
     */
    public void setTakeoverConsents(Map<String, ?> config) {
        this.takeoverConsents = DriverBindings.takeoverConsents(config);
    }

    /** Where driver:upgrade finds group:artifact:version coordinates (a Maven repository layout). */
    public void setDriverRepository(Path repository) {
        this.driverRepository = repository;
    }

    LifecycleEvents lifecycleEvents() {
        return table.lifecycleEvents;
    }

    Path driverRepository() {
        return driverRepository;
    }

    Path stateDir() {
        return stateDir;
    }

    DriverBinding awaitBinding(String type, java.util.function.Predicate<DriverBinding> which, Duration timeout) {
        return drivers.awaitBinding(type, which, timeout);
    }

    DriverBinding awaitBound(String type, long bundleId, Duration timeout) {
        return drivers.awaitBound(type, bundleId, timeout);
    }

    void stage(long bundleId) {
        drivers.stage(bundleId);
    }

    void unstage(long bundleId) {
        drivers.unstage(bundleId);
    }

    /** Holds back bundle {@code from}'s drivers and makes bundle {@code to}'s active, in one step. */
    void switchDrivers(long from, long to) {
        drivers.switchTo(from, to);
    }

    /** Waits until the reconciler has done what was asked of it so far (for tests). */
    void awaitReconciler() throws InterruptedException {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        reconciler.execute(done::countDown);
        done.await(5, java.util.concurrent.TimeUnit.SECONDS);
    }

    /** Reconciles {@code type} again on the reconciler's thread (declared zones that wait for a driver). */
    void reconcileLater(String type) {
        if (reconciler.isOpen()) {
            reconciler.schedule(type);
        }
    }

    void beginTrial(String type) {
        reconciler.beginTrial(type);
    }

    void endTrial(String type) {
        reconciler.endTrial(type);
    }

    Map<String, String> adoptAllNow(String type) {
        return reconciler.adoptAllNow(type);
    }

    /** Adopts every zone of {@code type}, leaving in {@code later} what can wait (see {@link ZoneReconciler}). */
    Map<String, String> adoptAllNow(String type, java.util.Collection<Runnable> later) {
        return reconciler.adoptAllNow(type, later);
    }

    /** Runs what {@link #adoptAllNow(String, java.util.Collection)} left for later. */
    void finishAdoptions(java.util.Collection<Runnable> later) {
        ZoneReconciler.finish(later);
    }

    // ---- ZoneManager ----

    @Override
    public ZoneInfo create(ZoneSpec spec) throws ZoneException {
        return lifecycle.create(spec);
    }

    @Override
    public ZoneInfo start(String name) throws ZoneException {
        return lifecycle.start(name);
    }

    @Override
    public ZoneInfo stop(String name, Duration grace) throws ZoneException {
        return lifecycle.stop(name, grace);
    }

    @Override
    public void destroy(String name) throws ZoneException {
        lifecycle.destroy(name);
    }

    /** Pauses or resumes a zone, for drivers that can. */
    public ZoneInfo pause(String name, boolean pause) throws ZoneException {
        return lifecycle.pause(name, pause);
    }

    @Override
    public Optional<ZoneInfo> get(String name) {
        Zone z = table.find(name);
        return z == null ? Optional.empty() : Optional.of(lifecycle.info(z));
    }

    @Override
    public List<ZoneInfo> list() {
        return table.all().stream().map(lifecycle::info).sorted(Comparator.comparing(ZoneInfo::name))
                .collect(Collectors.toList());
    }

    @Override
    public ZoneInfo await(String name, Set<ZoneState> states, Duration timeout) throws ZoneException {
        return lifecycle.await(name, states, timeout);
    }

    @Override
    public Path consoleLog(String name) throws ZoneException {
        return consoles.consoleLog(name);
    }

    /** Opens an interactive console on a running zone. */
    public ByteChannel attachConsole(String name) throws ZoneException {
        return consoles.attachConsole(name);
    }

    /** Every channel the specs name, with both ends, their states and what each guest reported it moved. */
    public List<ChannelBroker.Channel> channels() {
        return consoles.channels();
    }

    /** Zone folders that could not be read at start-up and were set aside. */
    public List<ZoneStore.Quarantined> quarantined() {
        return table.quarantined();
    }

    /** Declared zone files ({@code etc/zones/*.json}) that were refused at start-up, and why. */
    public List<DeclaredZoneFiles.Refused> refusedDeclarations() {
        return List.copyOf(refusedDeclarations);
    }

    /** The directory of a zone (its spec, runtime record and console log). */
    public Path zoneDirectory(String name) throws ZoneException {
        table.zone(name);
        return table.store().zoneDirectory(name);
    }

    void addListener(ZoneListener l) {
        table.addListener(l);
    }

    void removeListener(ZoneListener l) {
        table.removeListener(l);
    }

    // ---- host resources (networks, disks) and devices (pci, tpm, ...) ----

    public void addResourceProvider(ZoneResourceProvider provider) {
        resources.addProvider(provider);
        if (reconciler.isOpen()) {
            reconciler.execute(() -> resources.reconcile(provider));
        }
    }

    public void removeResourceProvider(ZoneResourceProvider provider) {
        resources.removeProvider(provider);
    }

    /** The image store that image zones are checked against, or null when there is none. */
    public void setImageStore(io.zonekeeper.api.image.ImageStore store) {
        lifecycle.setImageStore(store);
    }

    public void unsetImageStore(io.zonekeeper.api.image.ImageStore store) {
        lifecycle.unsetImageStore(store);
    }

    public void addDeviceBackend(DeviceBackend backend) {
        resources.addBackend(backend);
        if (reconciler.isOpen()) {
            reconciler.execute(() -> resources.reportOrphans(backend));
        }
    }

    public void removeDeviceBackend(DeviceBackend backend) {
        resources.removeBackend(backend);
    }

    /** The device types that have a backend now, with the class serving each. */
    public Map<String, String> deviceBackends() {
        return resources.backendClasses();
    }
}

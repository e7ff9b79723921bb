package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.spi.Adoption;

/**
 * Closes the gap between the stored zones and the bound drivers: whenever a driver (re)appears, its active zones
 * are handed to it by proof ({@link io.zonekeeper.spi.HypervisorDriver#adopt}), and declared zones that should
 * run are started. Work is done on one thread, in the order it was asked for.
 *
 * <p>During a driver upgrade the type is on trial: a zone the new driver refuses keeps its state, so that the
 * previous driver can take it back.
 */
final class ZoneReconciler {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    /** Starts a zone by name, as the shell would. */
    interface Starter {
        void start(String name) throws ZoneException;
    }

    private final ZoneTable table;
    private final DriverBindings drivers;
    private final Starter starter;
    /** The live processes that carry a zone's uuid: proof that its guest runs whatever the records say. */
    private final Function<UUID, List<Long>> liveGuests;
    private ExecutorService executor;
    private volatile boolean open;
    /** Driver types under a trial (an upgrade): a refused adoption leaves the zone as it is, for a rollback. */
    private final Set<String> trials = ConcurrentHashMap.newKeySet();
    private final Map<String, String> trialRefusals = new ConcurrentHashMap<>();

    ZoneReconciler(ZoneTable table, DriverBindings drivers, Starter starter, Function<UUID, List<Long>> liveGuests) {
        this.table = table;
        this.drivers = drivers;
        this.starter = starter;
        this.liveGuests = liveGuests;
    }

    /** Makes the worker thread; nothing is scheduled until {@link #open}. */
    void prepare() {
        executor = Executors.newSingleThreadExecutor(r -> ZoneTable.daemon(r, "zonekeeper-reconciler"));
    }

    /** From now on every driver or provider that comes is reconciled. */
    void open() {
        open = true;
    }

    boolean isOpen() {
        return open;
    }

    /** Stops reconciling; what runs now is interrupted. */
    void close() {
        open = false;
        if (executor != null) {
            executor.shutdownNow();
        }
    }

    void awaitClosed() {
        if (executor == null) {
            return;
        }
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs {@code work} on the reconciler's thread; dropped while closing. */
    void execute(Runnable work) {
        try {
            executor.execute(work);
        } catch (RejectedExecutionException e) {
            // Closing: the next open reconciles everything anyway.
        }
    }

    void schedule(String type) {
        execute(() -> reconcile(type));
    }

    /** Hands the zones of {@code type} to its active driver, and starts declared zones that should run. */
    void reconcile(String type) {
        DriverBinding binding = drivers.active(type);
        if (binding == null) {
            return;
        }
        for (Zone z : table.all()) {
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
                } else if (r.desiredRunning() && ZoneLifecycle.STARTABLE.contains(r.state())
                        && r.state() != ZoneState.CRASHED && (mine || r.spec().hypervisor() == null)) {
                    LOG.log(Level.INFO, "starting declared zone " + r.spec().name() + " on " + type);
                    starter.start(r.spec().name());
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
    DriverBinding ensureAttached(Zone z) throws ZoneException {
        return ensureAttached(z, null);
    }

    /**
     * {@link #ensureAttached(Zone)}; when {@code later} is not null, an adoption that leaves the zone's state as it
     * is changes the record in memory only, and adds to {@code later} what can wait until every zone is adopted:
     * storing the record, the lifecycle event, the log line.
     */
    private DriverBinding ensureAttached(Zone z, java.util.Collection<Runnable> later) throws ZoneException {
        ZoneRecord r = z.record();
        if (!r.state().isActive() || r.driver() == null) {
            return null;
        }
        DriverBinding binding = drivers.await(r.driver(), "zone " + r.spec().name() + " runs under driver "
                + r.driver());
        DriverBinding previous = z.attachedTo();
        if (previous == binding) {
            return binding;
        }
        if (previous != null) {
            // Another binding still holds the guest (a driver upgrade's switch keeps the previous bundle running
            // until every zone is adopted): it lets go first, as its stop would have, since a guest may serve one
            // control connection at a time (QEMU's QMP does).
            try {
                previous.driver.release(z.context(previous));
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "zone " + r.spec().name() + ": " + previous.describe() + " failed to let go: "
                        + e);
            }
            z.detachFrom(previous);
        }
        Adoption a;
        try {
            a = binding.driver.adopt(z.context(binding));
        } catch (RuntimeException e) {
            a = Adoption.refused("the driver failed while adopting: " + e);
        }
        if (a.adopted()) {
            z.attach(binding);
            String why = "adopted by " + binding.describe();
            ZoneState state = a.state();
            Runnable tell = () -> {
                table.lifecycleEvents.adopted(r.spec().name(), state, binding.type, why);
                LOG.log(Level.INFO, "zone " + r.spec().name() + " " + why);
            };
            if (later != null && z.noteUnsaved(state, why)) {
                later.add(() -> {
                    z.save();
                    tell.run();
                });
            } else {
                z.setState(state, why);
                tell.run();
            }
            return binding;
        }
        z.attach(null);
        if (trials.contains(r.driver())) {
            trialRefusals.put(r.spec().name(), a.reason());
            LOG.log(Level.WARNING, "zone " + r.spec().name() + " was not adopted by " + binding.describe() + ": "
                    + a.reason() + " (left as it is: the driver is on trial)");
            return null;
        }
        // A process with the zone's uuid that the driver could not prove is named, so that the operator can act;
        // the zone's resources stay with it until it is gone (ZoneResources).
        List<Long> alive = liveGuests.apply(r.id());
        String why = "not adopted: " + a.reason() + (alive.isEmpty() ? "" : "; process " + alive + " with the zone's"
                + " uuid still runs, so its taps, leases and disk locks are kept until it ends");
        z.setState(ZoneState.CRASHED, why);
        LOG.log(Level.WARNING, "zone " + r.spec().name() + " was " + why);
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
     * The most zones adopted at once during an upgrade. An adoption mostly waits for its guest's answer, so every
     * zone gets a thread of its own up to this many: with 8 for 10 zones, the last two waited for a whole adoption
     * before they began, and the window grew by that.
     */
    static final int ADOPTION_THREADS = 32;

    /**
     * Hands every active zone of {@code type} to the driver's active binding now, several zones at once (each under
     * its own operation lock), and returns the zones that were refused with the reasons (only meaningful during a
     * trial). The control plane waits for this during an upgrade, so its time is the upgrade window: adopting one
     * zone after another made it grow by a QMP handshake and a record write per zone.
     */
    Map<String, String> adoptAllNow(String type) {
        return adoptAllNow(type, null);
    }

    /**
     * {@link #adoptAllNow(String)}, leaving in {@code later} (when not null) what each adoption can do once every
     * zone is adopted ({@link #finish}): an adoption that keeps the zone's state changes its record in memory now
     * and stores it then. A crash in between loses nothing: the next start adopts every zone by proof again.
     */
    Map<String, String> adoptAllNow(String type, java.util.Collection<Runnable> later) {
        List<Zone> zones = new ArrayList<>();
        for (Zone z : table.all()) {
            ZoneRecord r = z.record();
            if (type.equals(r.driver()) && r.state().isActive()) {
                trialRefusals.remove(r.spec().name());
                zones.add(z);
            }
        }
        Map<String, String> refused = new ConcurrentSkipListMap<>();
        if (zones.size() <= 1) {
            zones.forEach(z -> adoptNow(z, refused, later));
            return new TreeMap<>(refused);
        }
        // Threads made for this call and gone after it: an upgrade is rare, a parked pool would cost every day.
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(ADOPTION_THREADS, zones.size()),
                r -> ZoneTable.daemon(r, "zonekeeper-adopt"));
        try {
            List<Future<?>> all = new ArrayList<>();
            for (Zone z : zones) {
                all.add(pool.submit(() -> adoptNow(z, refused, later)));
            }
            for (int i = 0; i < all.size(); i++) {
                try {
                    all.get(i).get();
                } catch (ExecutionException e) {
                    refused.put(zones.get(i).name(), String.valueOf(e.getCause()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    refused.put(zones.get(i).name(), "interrupted");
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return new TreeMap<>(refused);
    }

    /**
     * Runs what {@link #adoptAllNow(String, java.util.Collection)} left for later, several at once (each stores one
     * zone's record), and returns when all of it is done.
     */
    static void finish(java.util.Collection<Runnable> later) {
        if (later.size() <= 1) {
            later.forEach(Runnable::run);
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(ADOPTION_THREADS, later.size()),
                r -> ZoneTable.daemon(r, "zonekeeper-adopted"));
        try {
            List<Future<?>> all = new ArrayList<>();
            later.forEach(work -> all.add(pool.submit(work)));
            for (Future<?> f : all) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    LOG.log(Level.WARNING, "after an adoption: " + e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        } finally {
            pool.shutdown();
        }
    }

    /** Adopts one zone under its operation lock; a refusal goes into {@code refused}. */
    private void adoptNow(Zone z, Map<String, String> refused, java.util.Collection<Runnable> later) {
        String name = z.name();
        try {
            if (!z.operation.tryLock(drivers.driverWait().toMillis(), TimeUnit.MILLISECONDS)) {
                refused.put(name, "another operation on the zone did not finish");
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            refused.put(name, "interrupted");
            return;
        }
        try {
            if (ensureAttached(z, later) == null && trialRefusals.containsKey(name)) {
                refused.put(name, trialRefusals.get(name));
            }
        } catch (ZoneException | RuntimeException e) {
            refused.put(name, String.valueOf(e.getMessage()));
        } finally {
            z.operation.unlock();
        }
    }
}

package io.zonekeeper.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.api.ZoneEvent;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.spi.ChosenDriver;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PausableDriver;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * The life of a zone: DEFINED, STARTING, RUNNING, PAUSED, STOPPING, STOPPED, CRASHED, destroyed. Each step holds
 * the zone's operation lock, asks the driver, and leaves the zone as it was when the driver fails.
 */
final class ZoneLifecycle {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");
    static final Set<ZoneState> STARTABLE = EnumSet.of(ZoneState.DEFINED, ZoneState.STOPPED, ZoneState.CRASHED);

    private final ZoneTable table;
    private final DriverBindings drivers;
    private final ZoneResources resources;
    private final ZoneReconciler reconciler;
    private ChannelBroker channelBroker;
    /** The image store, when zone-images runs; image zones are refused without it. */
    private volatile ImageStore images;
    private Duration defaultGrace = Duration.ofSeconds(30);

    ZoneLifecycle(ZoneTable table, DriverBindings drivers, ZoneResources resources, ZoneReconciler reconciler) {
        this.table = table;
        this.drivers = drivers;
        this.resources = resources;
        this.reconciler = reconciler;
    }

    void open(ChannelBroker channelBroker, Duration defaultGrace) {
        this.channelBroker = channelBroker;
        this.defaultGrace = defaultGrace;
    }

    ZoneInfo create(ZoneSpec spec) throws ZoneException {
        spec.requireValid();
        checkImage(spec);
        resources.checkDevices(spec);
        return info(table.create(spec, false));
    }

    void setImageStore(ImageStore store) {
        images = store;
    }

    /** A greedy rebind binds the new store before it unbinds the old one: only the old one is forgotten. */
    synchronized void unsetImageStore(ImageStore store) {
        if (images == store) {
            images = null;
        }
    }

    /** An image zone's image must be in the store now: a typo is caught at create, not at the first start. */
    private void checkImage(ZoneSpec spec) throws ZoneException {
        if (spec.image() == null) {
            return;
        }
        ImageStore store = images;
        if (store == null) {
            throw new ZoneException("zone " + spec.name() + " names image " + spec.image() + ", but no image store is"
                    + " running: the zone-images bundle provides it");
        }
        try {
            store.resolve(spec.image());
        } catch (ImageException e) {
            throw new ZoneException("zone " + spec.name() + ": image " + spec.image() + ": " + e.getMessage()
                    + " (image:list shows the images there are)");
        }
    }

    ZoneInfo start(String name) throws ZoneException {
        Zone z = table.zone(name);
        lock(z, "start");
        try {
            ZoneRecord r = z.record();
            if (!STARTABLE.contains(r.state())) {
                throw new ZoneException("zone " + name + " is " + r.state() + "; only a DEFINED, STOPPED or "
                        + "CRASHED zone can be started");
            }
            // A guest that ended just now may still be giving its resources back on the watcher's thread.
            z.awaitEnded();
            DriverBinding binding = drivers.choose(r.spec());
            DriverBindings.checkFits(r.spec(), binding);
            ZoneState before = r.state();
            String beforeReason = r.reason();
            // Pairing changes nothing on the host, so a channel that is not named back is refused before any tap.
            List<PreparedChannel> channels = channelBroker.prepare(name, binding.type, table.parties());
            // All or nothing: a provider that fails has undone its part, and those before it are released here.
            z.prepared(resources.prepare(r.id(), r.spec(), new ChosenDriver(binding.type,
                    binding.driver.capabilities())).plus(new PreparedResources(List.of(), List.of(),
                    List.of(), channels)));
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
                    table.store().clearRuntime(name);
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

    ZoneInfo stop(String name, Duration grace) throws ZoneException {
        Zone z = table.zone(name);
        lock(z, "stop");
        try {
            ZoneRecord r = z.record();
            if (!r.state().isActive()) {
                throw new ZoneException("zone " + name + " is " + r.state() + "; there is nothing to stop");
            }
            DriverBinding binding = reconciler.ensureAttached(z);
            if (binding == null) {
                return info(z);
            }
            z.change(x -> x.withDesiredRunning(false).withState(ZoneState.STOPPING, "stop requested"));
            try {
                binding.driver.stop(z.context(binding), grace == null ? defaultGrace : grace);
            } catch (DriverException | RuntimeException e) {
                ZoneState seen = observe(binding, z);
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

    void destroy(String name) throws ZoneException {
        Zone z = table.zone(name);
        lock(z, "destroy");
        try {
            ZoneRecord r = z.record();
            if (r.state().isActive()) {
                DriverBinding binding = reconciler.ensureAttached(z);
                if (binding != null) {
                    try {
                        binding.driver.kill(z.context(binding));
                    } catch (DriverException | RuntimeException e) {
                        throw new ZoneException("zone " + name + " could not be ended, so it was kept: "
                                + e.getMessage(), e);
                    }
                }
            } else if (r.driver() != null && drivers.active(r.driver()) != null) {
                // Let the driver remove sockets and files a crashed guest may have left.
                DriverBinding binding = drivers.active(r.driver());
                try {
                    binding.driver.kill(z.context(binding));
                } catch (DriverException | RuntimeException e) {
                    LOG.log(Level.WARNING, "cleanup of zone " + name + ": " + e.getMessage());
                }
            }
            try {
                table.store().delete(name);
            } catch (IOException e) {
                throw new ZoneException("zone " + name + " was ended but its folder could not be removed: "
                        + e.getMessage(), e);
            }
            table.remove(name);
            z.attach(null);
            resources.release(z);
            channelBroker.forget(name, r.spec());
            table.publish(new ZoneEvent(name, r.state(), null, "destroyed", Instant.now()));
        } finally {
            z.operation.unlock();
        }
    }

    /** Pauses or resumes a zone, for drivers that can. */
    ZoneInfo pause(String name, boolean pause) throws ZoneException {
        Zone z = table.zone(name);
        lock(z, pause ? "pause" : "resume");
        try {
            ZoneState want = pause ? ZoneState.RUNNING : ZoneState.PAUSED;
            if (z.record().state() != want) {
                throw new ZoneException("zone " + name + " is " + z.record().state() + "; only a " + want
                        + " zone can be " + (pause ? "paused" : "resumed"));
            }
            DriverBinding binding = reconciler.ensureAttached(z);
            if (!(binding.driver instanceof PausableDriver p)) {
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

    ZoneInfo await(String name, Set<ZoneState> states, Duration timeout) throws ZoneException {
        Zone z = table.zone(name);
        z.awaitState(states, timeout);
        return info(z);
    }

    ZoneInfo info(Zone z) {
        ZoneRecord r;
        DriverBinding attached;
        synchronized (z) {
            r = z.record();
            attached = z.attachedTo();
        }
        Map<String, String> runtime = Map.of();
        if (r.state().isActive()) {
            runtime = z.context(null).runtime().map(RuntimeRecord::properties).orElse(Map.of());
        }
        boolean isAttached = attached != null && attached == drivers.active(attached.type);
        return new ZoneInfo(r.id(), r.spec(), r.state(), r.reason(), r.driver(), isAttached, runtime, r.since());
    }

    /** Takes the zone's operation lock, waiting as long as a driver wait plus a stop may take. */
    void lock(Zone z, String what) throws ZoneException {
        try {
            if (!z.operation.tryLock(drivers.driverWait().toMillis() + defaultGrace.toMillis(),
                    TimeUnit.MILLISECONDS)) {
                throw new ZoneException("cannot " + what + " zone " + z.name() + ": another operation on it is "
                        + "still running");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ZoneException("interrupted while waiting to " + what + " zone " + z.name());
        }
        if (!table.holds(z)) {
            z.operation.unlock();
            throw new ZoneException("zone " + z.name() + " was destroyed meanwhile");
        }
    }

    private static ZoneState observe(DriverBinding b, Zone z) {
        try {
            return b.driver.observe(z.context(b));
        } catch (RuntimeException e) {
            return z.record().state();
        }
    }

    private void clearRuntime(String name) {
        try {
            table.store().clearRuntime(name);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not remove the runtime record of zone " + name + ": " + e.getMessage());
        }
    }
}

package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.hostio.GuestProcessScan;
import io.zonekeeper.spi.ChosenDriver;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.ZoneResourceProvider;

/**
 * What a zone holds on the host besides its guest: networks and disks from the resource providers, devices from
 * the device backends. A start prepares them all or none; whatever ends a guest gives them all back; a provider
 * that comes late gives back what zones that ended meanwhile still held.
 */
final class ZoneResources {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private final KeyedServices<ResourceKind, ZoneResourceProvider> providers = new KeyedServices<>();
    private final KeyedServices<String, DeviceBackend> backends = new KeyedServices<>();
    private final ZoneTable table;
    private final DriverBindings drivers;
    private final DeferredReleases deferred;

    /** {@code drivers} lends its driver wait: a missing provider is waited for as long as a missing driver. */
    ZoneResources(ZoneTable table, DriverBindings drivers) {
        this(table, drivers, GuestProcessScan.host());
    }

    /** With the process table {@code scan} reads: nothing is given back while a process with the zone's uuid lives. */
    ZoneResources(ZoneTable table, DriverBindings drivers, GuestProcessScan scan) {
        this.table = table;
        this.drivers = drivers;
        this.deferred = new DeferredReleases(scan, Duration.ofSeconds(1));
    }

    void close() {
        deferred.close();
    }

    void addProvider(ZoneResourceProvider provider) {
        providers.add(provider.kind(), provider);
    }

    void removeProvider(ZoneResourceProvider provider) {
        providers.remove(provider);
    }

    List<ZoneResourceProvider> providers() {
        return providers.all();
    }

    void addBackend(DeviceBackend backend) {
        backends.add(backend.type(), backend);
        LOG.log(Level.INFO, "device backend for " + backend.type() + " devices is available: "
                + backend.getClass().getName());
    }

    void removeBackend(DeviceBackend backend) {
        backends.remove(backend);
    }

    /** The device types that have a backend now, with the class serving each. */
    Map<String, String> backendClasses() {
        Map<String, String> m = new TreeMap<>();
        backends.used().forEach((t, b) -> m.put(t, b.getClass().getName()));
        return m;
    }

    /**
     * All or nothing: a provider that fails has undone its part, and those before it are released here. Providers
     * are told the driver the zone starts on, so that they decide by its capabilities, never by its name.
     */
    PreparedResources prepare(UUID id, ZoneSpec spec, ChosenDriver driver) throws ZoneException {
        List<ZoneResourceProvider> done = new ArrayList<>();
        List<DeviceBackend> doneDevices = new ArrayList<>();
        PreparedResources all = PreparedResources.NONE;
        try {
            for (ResourceKind kind : ResourceKind.values()) {
                boolean wanted = kind == ResourceKind.NETWORK ? !spec.networks().isEmpty() : !spec.disks().isEmpty();
                if (!wanted) {
                    continue;
                }
                ZoneResourceProvider p = providers.await(kind, drivers.driverWait());
                if (p == null) {
                    String what = kind == ResourceKind.NETWORK ? "networks" : "disks";
                    throw new ZoneException("zone " + spec.name() + " names " + what + ", but no " + what
                            + " provider is installed (waited " + drivers.driverWait().toSeconds() + " s); install "
                            + "the zonekeeper-network feature");
                }
                PreparedResources got = p.prepare(id, spec, driver);
                done.add(p);
                all = all.plus(got);
            }
            for (Map.Entry<String, List<DeviceBackend.IndexedDevice>> e : devicesByType(spec).entrySet()) {
                DeviceBackend backend = backends.await(e.getKey(), drivers.driverWait());
                if (backend == null) {
                    throw new ZoneException("zone " + spec.name() + " names " + e.getValue().get(0).field() + " of"
                            + " type " + e.getKey() + ", but no device backend for " + e.getKey() + " is installed"
                            + " (waited " + drivers.driverWait().toSeconds() + " s); install its bundle, or drop it"
                            + " into deploy/");
                }
                List<PreparedDevice> got = backend.prepare(id, spec.name(), table.store().zoneDirectory(spec.name()),
                        e.getValue());
                doneDevices.add(backend);
                all = all.plus(new PreparedResources(List.of(), List.of(), got, List.of()));
            }
            table.lifecycleEvents.prepared(spec.name(), driver.type(), all);
            return all;
        } catch (ZoneException | RuntimeException e) {
            for (DeviceBackend b : doneDevices) {
                release(b, id, spec.name());
            }
            for (ZoneResourceProvider p : done) {
                release(p, id, spec.name());
            }
            if (e instanceof ZoneException ze) {
                throw ze;
            }
            throw new ZoneException("zone " + spec.name() + ": preparing its resources failed: " + e, e);
        }
    }

    /**
     * Gives back everything of the zone's, from every provider and backend bound then: now, or once no process
     * with the zone's uuid lives any more (a guest the records lost still holds its disks and taps).
     */
    void release(Zone z) {
        table.lifecycleEvents.released(z.name(), z.prepared());
        z.prepared(PreparedResources.NONE);
        ZoneRecord r = z.record();
        deferred.releaseWhenGone(r.id(), r.spec().name(), () -> !table.holds(z) || !z.record().state().isActive(),
                () -> releaseAll(r.id(), r.spec().name()));
    }

    private void releaseAll(UUID id, String name) {
        for (ZoneResourceProvider p : providers.all()) {
            release(p, id, name);
        }
        for (DeviceBackend b : backends.all()) {
            release(b, id, name);
        }
    }

    /**
     * Lets each bound device backend check the spec's devices before anything is stored. A type without a backend
     * yet passes here (its bundle may come later); starting such a zone waits for it and then fails clearly.
     */
    void checkDevices(ZoneSpec spec) throws ZoneException {
        List<FieldError> errors = new ArrayList<>();
        for (Map.Entry<String, List<DeviceBackend.IndexedDevice>> e : devicesByType(spec).entrySet()) {
            DeviceBackend b = backends.first(e.getKey());
            if (b != null) {
                try {
                    errors.addAll(b.validate(e.getValue()));
                } catch (RuntimeException ex) {
                    errors.add(new FieldError(e.getValue().get(0).field(), "the " + e.getKey()
                            + " device backend failed to check it: " + ex));
                }
            }
        }
        if (!errors.isEmpty()) {
            throw new InvalidSpecException(errors);
        }
    }

    private static Map<String, List<DeviceBackend.IndexedDevice>> devicesByType(ZoneSpec spec) {
        Map<String, List<DeviceBackend.IndexedDevice>> m = new LinkedHashMap<>();
        for (int i = 0; i < spec.devices().size(); i++) {
            var d = spec.devices().get(i);
            m.computeIfAbsent(d.type(), k -> new ArrayList<>()).add(new DeviceBackend.IndexedDevice(i, d));
        }
        return m;
    }

    /**
     * A provider that comes (at start-up, say) may hold resources for zones that ended while it was away: the
     * appliance crashed, and the next one found the zone's guest gone before this provider registered, so the end
     * of the zone released nothing of this kind. Those are given back now, as the end would have, for every zone
     * this registry knows that does not run and that no operation holds; each is logged. What is left (resources
     * of zones this registry does not know, such as quarantined ones) is only reported: the operator decides.
     */
    void reconcile(ZoneResourceProvider provider) {
        String kind = provider.kind().name().toLowerCase(Locale.ROOT);
        List<String> before = orphansOf(provider);
        if (before.isEmpty()) {
            return;
        }
        for (Zone z : table.all()) {
            if (z.record().state().isActive() || !z.operation.tryLock()) {
                continue; // a zone that runs keeps what it has; an operation on it settles its resources itself
            }
            try {
                ZoneRecord r = z.record();
                if (!r.state().isActive()) {
                    // A process with the zone's uuid may still run (its record lost): then only once it is gone.
                    deferred.releaseWhenGone(r.id(), r.spec().name(), () -> !z.record().state().isActive(),
                            () -> release(provider, r.id(), r.spec().name()));
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
        try {
            return provider.orphans(activeOrHeld());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the " + provider.kind() + " provider failed to list orphans: " + e);
            return List.of();
        }
    }

    /** Logs what a backend that comes holds for zones that do not run; devices are never taken back unasked. */
    void reportOrphans(DeviceBackend backend) {
        try {
            for (String orphan : backend.orphans(activeOrHeld())) {
                LOG.log(Level.WARNING, "orphan " + backend.type() + " device: " + orphan);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the " + backend.type() + " device backend failed to list orphans: " + e);
        }
    }

    /** Zones whose resources are in use: active ones, and any whose uuid a live process carries. */
    private java.util.Set<UUID> activeOrHeld() {
        java.util.Set<UUID> ids = new java.util.HashSet<>(table.activeIds());
        ids.addAll(deferred.holding());
        return ids;
    }

    private static void release(ZoneResourceProvider p, UUID id, String name) {
        try {
            p.release(id, name);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "releasing the " + p.kind() + " resources of zone " + name + ": " + e);
        }
    }

    private static void release(DeviceBackend b, UUID id, String name) {
        try {
            b.release(id, name);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "releasing the " + b.type() + " devices of zone " + name + ": " + e);
        }
    }
}

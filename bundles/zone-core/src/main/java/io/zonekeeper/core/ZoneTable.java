package io.zonekeeper.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import io.zonekeeper.api.ZoneEvent;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneListener;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.core.store.ZoneStore;

/**
 * The zones in memory, by name, backed by the {@link ZoneStore}, and the listeners told of every change. Every
 * other part of the core finds a zone here.
 */
final class ZoneTable {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private final Map<String, Zone> zones = new ConcurrentHashMap<>();
    private final List<ZoneStore.Quarantined> quarantined = new CopyOnWriteArrayList<>();
    private final List<ZoneListener> listeners = new CopyOnWriteArrayList<>();
    private final Object createLock = new Object();
    /** Gives back what a zone's guest held; called whenever a zone leaves an active state. */
    private volatile Consumer<Zone> whenGuestEnds = z -> { };
    private volatile ZoneStore store;
    private ExecutorService events;
    final LifecycleEvents lifecycleEvents = new LifecycleEvents(this);

    void whenGuestEnds(Consumer<Zone> action) {
        this.whenGuestEnds = action;
    }

    /** Loads every stored zone; a zone folder that cannot be read is set aside and logged. */
    void open(ZoneStore store) throws IOException {
        this.store = store;
        this.events = Executors.newSingleThreadExecutor(r -> daemon(r, "zonekeeper-events"));
        List<ZoneStore.Quarantined> bad = new ArrayList<>();
        for (ZoneRecord r : store.loadAll(bad)) {
            zones.put(r.spec().name(), new Zone(this, r));
        }
        for (ZoneStore.Quarantined q : bad) {
            LOG.log(Level.ERROR, "zone " + q.name() + " could not be read (" + q.problem() + "); moved to "
                    + q.movedTo());
        }
        quarantined.addAll(bad);
    }

    void close() {
        if (events != null) {
            events.shutdown();
        }
    }

    static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    ZoneStore store() {
        return store;
    }

    /** The zone, or a clear error that says how to list them. */
    Zone zone(String name) throws ZoneException {
        if (name == null || name.isEmpty()) {
            throw new ZoneException("a zone name is required");
        }
        Zone z = zones.get(name);
        if (z == null) {
            throw new ZoneException("no zone named '" + name + "'; zone:list shows the zones there are");
        }
        return z;
    }

    /** The zone, or null. */
    Zone find(String name) {
        return zones.get(name);
    }

    Collection<Zone> all() {
        return zones.values();
    }

    /** Whether {@code z} is still the zone of its name (not destroyed, nor destroyed and made anew). */
    boolean holds(Zone z) {
        return zones.get(z.name()) == z;
    }

    /** Stores a new DEFINED zone; refuses a name that is taken. */
    Zone create(ZoneSpec spec, boolean desiredRunning) throws ZoneException {
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
            Zone z = new Zone(this, record);
            zones.put(spec.name(), z);
            publish(new ZoneEvent(spec.name(), null, ZoneState.DEFINED, "created", Instant.now()));
            return z;
        }
    }

    void remove(String name) {
        zones.remove(name);
    }

    /** The ids of the zones whose guests are active now. */
    Set<UUID> activeIds() {
        return zones.values().stream().map(Zone::record).filter(r -> r.state().isActive()).map(ZoneRecord::id)
                .collect(Collectors.toSet());
    }

    /** What the channel broker needs to know of every zone, now. */
    Map<String, ChannelBroker.Party> parties() {
        Map<String, ChannelBroker.Party> m = new TreeMap<>();
        for (Zone z : zones.values()) {
            ZoneRecord r = z.record();
            m.put(r.spec().name(), new ChannelBroker.Party(r.spec().name(), r.spec(), r.state(), r.driver()));
        }
        return m;
    }

    /** Zone folders that could not be read at start-up and were set aside. */
    List<ZoneStore.Quarantined> quarantined() {
        return List.copyOf(quarantined);
    }

    void guestEnded(Zone z) {
        whenGuestEnds.accept(z);
    }

    void addListener(ZoneListener l) {
        listeners.add(l);
    }

    void removeListener(ZoneListener l) {
        listeners.remove(l);
    }

    void publish(ZoneEvent event) {
        lifecycleEvents.stateChanged(event);
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
        } catch (RejectedExecutionException e) {
            // Closing.
        }
    }
}

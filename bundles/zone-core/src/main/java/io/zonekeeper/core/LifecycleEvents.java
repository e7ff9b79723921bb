package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.zonekeeper.api.ZoneEvent;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * Turns what happens to zones and drivers into events for the OSGi Event Admin: topic
 * {@code io/zonekeeper/zone/KIND} ({@code CREATED}, {@code STARTED}, {@code CRASHED}, {@code ADOPTED}, ...) or
 * {@code io/zonekeeper/driver/KIND} ({@code UPGRADE_BEGAN}, ...), with the properties {@code zone}, {@code state},
 * {@code driver}, {@code reason} and {@code time} (epoch milliseconds), and {@code console} (the last lines the guest
 * printed, escaped) for a crash. Every other part of the core calls this in one line where the change happens.
 *
 * <p>The Event Admin is optional: the core imports its package with {@code resolution:=optional}, and only
 * {@link EventAdminPoster}, a component that exists while an Event Admin does, touches its classes. Until one sets
 * a {@link #sink}, events go nowhere. Posting never fails the change it reports.
 */
final class LifecycleEvents {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");
    static final String ZONE_TOPIC = "io/zonekeeper/zone/";
    static final String DRIVER_TOPIC = "io/zonekeeper/driver/";
    /** A crash event quotes this many of the guest's last console lines, from at most this many bytes. */
    static final int CONSOLE_LINES = 20;
    static final int CONSOLE_BYTES = 4096;

    /** Where events go: the Event Admin's postEvent, or a test's list. */
    interface Sink {
        void post(String topic, Map<String, Object> properties);
    }

    private final ZoneTable table;
    private volatile Sink sink;

    LifecycleEvents(ZoneTable table) {
        this.table = table;
    }

    void sink(Sink sink) {
        this.sink = sink;
    }

    /** Forgets {@code gone} if it is the sink now (an Event Admin that left). */
    void unsink(Sink gone) {
        if (sink == gone) {
            sink = null;
        }
    }

    /** A state change of a zone, named by what it means: a start that ended RUNNING is STARTED, and so on. */
    void stateChanged(ZoneEvent e) {
        Sink s = sink;
        if (s == null) {
            return;
        }
        Zone z = table.find(e.zone());
        String driver = z == null ? null : z.record().driver();
        Map<String, Object> p = properties(e.zone(), e.current(), driver, e.reason());
        if (e.current() == ZoneState.CRASHED && z != null) {
            p.put("console", String.join("\n", lastConsoleLines(z)));
        }
        post(s, ZONE_TOPIC + kind(e.previous(), e.current(), e.reason()), p);
    }

    static String kind(ZoneState previous, ZoneState current, String reason) {
        if (previous == null) {
            return "CREATED";
        }
        if (current == null) {
            return "DESTROYED";
        }
        if (current == ZoneState.RUNNING) {
            if (previous == ZoneState.STARTING) {
                return "STARTED";
            }
            if (previous == ZoneState.PAUSED && "resumed".equals(reason)) {
                return "RESUMED";
            }
        }
        return current.name();
    }

    /** A driver took a running zone's guest by proof (after an appliance restart or a driver upgrade). */
    void adopted(String zone, ZoneState state, String driver, String reason) {
        zone("ADOPTED", zone, state, driver, reason);
    }

    /** A zone's host resources were prepared for a start (networks, disks, devices). */
    void prepared(String zone, String driver, PreparedResources r) {
        if (!r.nics().isEmpty() || !r.disks().isEmpty()) {
            zone("RESOURCE_PREPARED", zone, null, driver, r.nics().size() + " network interface(s) "
                    + r.nics().stream().map(n -> n.network() + "=" + n.tapDevice()).toList() + ", " + r.disks().size()
                    + " disk(s)");
        }
        if (!r.devices().isEmpty()) {
            zone("DEVICE_BOUND", zone, null, driver, r.devices().size() + " device(s) bound");
        }
    }

    /** What a zone held on the host was given back (its guest ended, or it was destroyed). */
    void released(String zone, PreparedResources held) {
        if (!held.nics().isEmpty() || !held.disks().isEmpty()) {
            zone("RESOURCE_RELEASED", zone, null, null, held.nics().size() + " network interface(s), "
                    + held.disks().size() + " disk(s) given back");
        }
        if (!held.devices().isEmpty()) {
            zone("DEVICE_RELEASED", zone, null, null, held.devices().size() + " device(s) released");
        }
    }

    /** A driver upgrade or rollback: {@code kind} is UPGRADE_BEGAN, UPGRADE_FINISHED or UPGRADE_ROLLED_BACK. */
    void upgrade(String kind, String driver, String from, String to, String reason) {
        Sink s = sink;
        if (s == null) {
            return;
        }
        Map<String, Object> p = properties(null, null, driver, reason);
        p.put("from", String.valueOf(from));
        p.put("to", String.valueOf(to));
        post(s, DRIVER_TOPIC + kind, p);
    }

    private void zone(String kind, String zone, ZoneState state, String driver, String reason) {
        Sink s = sink;
        if (s == null) {
            return;
        }
        if (state == null) {
            Zone z = table.find(zone);
            state = z == null ? null : z.record().state();
        }
        post(s, ZONE_TOPIC + kind, properties(zone, state, driver, reason));
    }

    /** The event properties every event has; absent ones are "-", as Event Admin filters cannot match null. */
    static Map<String, Object> properties(String zone, ZoneState state, String driver, String reason) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("zone", zone == null ? "-" : zone);
        p.put("state", state == null ? "-" : state.name());
        p.put("driver", driver == null ? "-" : driver);
        p.put("reason", reason == null ? "" : reason);
        p.put("time", System.currentTimeMillis());
        return p;
    }

    private List<String> lastConsoleLines(Zone z) {
        Path log = z.context(null).runtime().flatMap(RuntimeRecord::consoleLog)
                .orElse(table.store().zoneDirectory(z.name()).resolve("console.log"));
        return FileTail.lastLines(log, CONSOLE_LINES, CONSOLE_BYTES);
    }

    private static void post(Sink s, String topic, Map<String, Object> properties) {
        try {
            s.post(topic, properties);
        } catch (RuntimeException | LinkageError e) {
            // LinkageError: an Event Admin whose package this bundle was not wired to.
            LOG.log(Level.WARNING, "could not post event " + topic + ": " + e);
        }
    }
}

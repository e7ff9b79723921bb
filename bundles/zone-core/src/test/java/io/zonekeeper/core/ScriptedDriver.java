package io.zonekeeper.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/**
 * A driver for unit tests of the registry's own logic: "guests" are entries in a shared map that outlives a
 * driver instance, as real QEMU processes outlive a driver revision.
 */
final class ScriptedDriver implements HypervisorDriver {
    /** The "host": zone id to a fake pid, shared by every instance like real processes are. */
    static final Map<UUID, Integer> HOST = new ConcurrentHashMap<>();
    /**
     * Which driver instance holds each guest's one control connection, as QEMU serves one QMP client at a time;
     * only enforced while {@link #ONE_CONNECTION} is set (a driver removed from the registry in a test does not run
     * the deactivation that would let go of its guests).
     */
    static final Map<UUID, ScriptedDriver> HOLDER = new ConcurrentHashMap<>();
    static volatile boolean ONE_CONNECTION;
    final String type;
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    volatile String failStartWith;
    volatile int maxMemory = 4096;
    volatile Set<Feature> features = EnumSet.of(Feature.ADOPTION, Feature.CHANNELS);
    volatile Set<String> deviceTypes = Set.of();
    /** The context and the host resources the last start was given. */
    volatile ZoneContext lastStarted;
    volatile io.zonekeeper.spi.PreparedResources lastResources;
    /** Runs at the start of each adopt, on the adopting thread (a test's way to see adoptions overlap). */
    volatile Runnable beforeAdopt = () -> { };
    private static int nextPid = 1000;

    ScriptedDriver(String type) {
        this.type = type;
    }

    @Override
    public String type() {
        return type;
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(features, 4, maxMemory, Map.of("kind", "test"), deviceTypes);
    }

    @Override
    public RuntimeRecord start(ZoneContext zone) throws DriverException {
        calls.add("start " + zone.name());
        lastStarted = zone;
        lastResources = zone.resources();
        if (failStartWith != null) {
            throw new DriverException(failStartWith);
        }
        int pid;
        synchronized (ScriptedDriver.class) {
            pid = nextPid++;
        }
        HOST.put(zone.id(), pid);
        HOLDER.put(zone.id(), this);
        RuntimeRecord r = new RuntimeRecord(type, Map.of("pid", Integer.toString(pid), "uuid", zone.id().toString()));
        zone.saveRuntime(r);
        return r;
    }

    @Override
    public Adoption adopt(ZoneContext zone) {
        calls.add("adopt " + zone.name());
        beforeAdopt.run();
        RuntimeRecord r = zone.runtime().orElse(null);
        if (r == null) {
            return Adoption.refused("no runtime record");
        }
        Integer pid = HOST.get(zone.id());
        if (pid == null || !r.get("pid").orElse("").equals(pid.toString())) {
            return Adoption.refused("process " + r.get("pid").orElse("?") + " is gone");
        }
        ScriptedDriver holder = HOLDER.putIfAbsent(zone.id(), this);
        if (ONE_CONNECTION && holder != null && holder != this) {
            return Adoption.refused("the guest's control connection is held by another driver instance");
        }
        HOLDER.put(zone.id(), this);
        return Adoption.adopted(ZoneState.RUNNING);
    }

    @Override
    public void release(ZoneContext zone) {
        calls.add("release " + zone.name());
        HOLDER.remove(zone.id(), this);
    }

    @Override
    public void stop(ZoneContext zone, Duration grace) {
        calls.add("stop " + zone.name());
        HOST.remove(zone.id());
    }

    @Override
    public void kill(ZoneContext zone) {
        calls.add("kill " + zone.name());
        HOST.remove(zone.id());
    }

    @Override
    public ZoneState observe(ZoneContext zone) {
        return HOST.containsKey(zone.id()) ? ZoneState.RUNNING : ZoneState.STOPPED;
    }

    static Set<UUID> running() {
        return HOST.keySet();
    }
}

package io.zonekeeper.spi;

import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;

import org.osgi.annotation.versioning.ProviderType;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

/**
 * zone-core's view of one zone, handed to a driver. The driver keeps its files in {@link #directory()}, writes
 * what it needs to find the guest again with {@link #saveRuntime}, and reports what it observes (a guest that
 * powered off, a process that died) with {@link #report}.
 */
@ProviderType
public interface ZoneContext {
    /** The zone's identity, also the VM UUID a driver gives the hypervisor. */
    UUID id();

    String name();

    ZoneSpec spec();

    /** The zone's own folder; it exists, survives restarts, and is removed when the zone is destroyed. */
    Path directory();

    /** The record the driver saved when it last started the guest, if any. */
    Optional<RuntimeRecord> runtime();

    /** Stores the record durably (written atomically) before the call returns. */
    void saveRuntime(RuntimeRecord record);

    /**
     * Reports a state the driver observed by itself, such as STOPPED when the guest powered off or CRASHED when
     * its process died. May be called from any thread.
     */
    void report(ZoneState state, String reason);

    /**
     * The host resources prepared for the current start of the zone (tap devices, checked disks), in the order of
     * the spec's networks and disks; {@link PreparedResources#NONE} when the spec names none. Meaningful during
     * {@link HypervisorDriver#start}; a driver that needs them later must record what it needs.
     */
    PreparedResources resources();
}

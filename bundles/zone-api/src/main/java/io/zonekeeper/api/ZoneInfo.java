package io.zonekeeper.api;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * A snapshot of one zone as the manager sees it.
 *
 * @param id            the zone's identity; also the VM's UUID, which drivers use to prove a running guest is
 *                      this zone
 * @param spec          the spec it was created from
 * @param state         its last known state
 * @param reason        why it is in that state (for CRASHED: the cause), or empty
 * @param driver        the driver type that runs or last ran it, or null when it never ran
 * @param driverAttached false while the zone's driver is away (being upgraded, say); the guest keeps running
 * @param runtime       what the driver recorded about the running guest (pid, sockets, domid, …)
 * @param since         when it entered its state
 */
public record ZoneInfo(UUID id, ZoneSpec spec, ZoneState state, String reason, String driver,
        boolean driverAttached, Map<String, String> runtime, Instant since) {

    public ZoneInfo {
        runtime = Map.copyOf(runtime);
        reason = reason == null ? "" : reason;
    }

    public String name() {
        return spec.name();
    }
}

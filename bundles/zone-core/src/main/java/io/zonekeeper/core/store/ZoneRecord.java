package io.zonekeeper.core.store;

import java.time.Instant;
import java.util.UUID;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

/**
 * What zone-core stores about a zone in {@code zone.json}: its identity and spec, the state it was last seen in,
 * the driver type that runs it, and whether it should run ({@code desiredRunning}) — which the reconciler uses
 * to start declared zones when their driver arrives.
 */
public record ZoneRecord(UUID id, ZoneSpec spec, ZoneState state, String reason, Instant since, String driver,
        boolean desiredRunning) {

    public ZoneRecord {
        reason = reason == null ? "" : reason;
    }

    public ZoneRecord withState(ZoneState newState, String newReason) {
        return new ZoneRecord(id, spec, newState, newReason, Instant.now(), driver, desiredRunning);
    }

    public ZoneRecord withDriver(String newDriver) {
        return new ZoneRecord(id, spec, state, reason, since, newDriver, desiredRunning);
    }

    public ZoneRecord withDesiredRunning(boolean desired) {
        return new ZoneRecord(id, spec, state, reason, since, driver, desired);
    }
}

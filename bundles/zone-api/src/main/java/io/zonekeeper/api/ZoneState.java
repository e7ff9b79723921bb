package io.zonekeeper.api;

/**
 * Where a zone is in its life. Only {@link #RUNNING}, {@link #PAUSED} and the two transitional states have a
 * guest that uses host resources.
 */
public enum ZoneState {
    /** Created and stored, never started or fully stopped; nothing runs. */
    DEFINED,
    /** The driver is launching the guest. */
    STARTING,
    /** The guest runs. */
    RUNNING,
    /** The guest exists but its vCPUs are paused. */
    PAUSED,
    /** A graceful stop was asked for and the guest has not gone yet. */
    STOPPING,
    /** The guest powered off or was stopped; nothing runs. */
    STOPPED,
    /** The guest or its hypervisor process died without being asked to; nothing runs. */
    CRASHED;

    /** True when a guest process or domain may exist for this zone. */
    public boolean isActive() {
        return this == STARTING || this == RUNNING || this == PAUSED || this == STOPPING;
    }
}

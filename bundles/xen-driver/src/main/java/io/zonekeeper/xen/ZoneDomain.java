package io.zonekeeper.xen;

import java.util.UUID;

import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.ZoneContext;

/** What the driver knows of one zone's domain while it watches it. */
final class ZoneDomain {
    final UUID id;
    final ZoneContext zone;
    final int domid;
    final String domainName;
    private volatile ZoneState state;
    /** The driver itself is ending the domain, so its disappearance is no news to report. */
    private volatile boolean asked;
    /** The driver paused or resumed it itself, so the flag change is no news either. */
    private volatile boolean expectFlags;

    ZoneDomain(ZoneContext zone, int domid, String domainName, ZoneState state) {
        this.id = zone.id();
        this.zone = zone;
        this.domid = domid;
        this.domainName = domainName;
        this.state = state;
    }

    ZoneState state() {
        return state;
    }

    void state(ZoneState s) {
        state = s;
    }

    boolean asked() {
        return asked;
    }

    void ask() {
        asked = true;
        state = ZoneState.STOPPING;
    }

    boolean expectFlags() {
        return expectFlags;
    }

    void expectFlags(boolean b) {
        expectFlags = b;
    }
}

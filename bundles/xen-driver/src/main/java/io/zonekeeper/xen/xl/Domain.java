package io.zonekeeper.xen.xl;

import java.util.Optional;
import java.util.UUID;

import io.zonekeeper.api.ZoneState;

/**
 * One domain as xl reports it: from {@code xl list -l} (its id, name, uuid and guest type) and, when known, the
 * state flags of {@code xl list} ({@code r-----}: running, blocked, paused, shutdown, crashed, dying).
 */
public record Domain(int domid, String name, Optional<UUID> uuid, String type, String flags) {

    public Domain withFlags(String f) {
        return new Domain(domid, name, uuid, type, f);
    }

    public boolean paused() {
        return flag(2, 'p');
    }

    public boolean shutdown() {
        return flag(3, 's');
    }

    public boolean crashed() {
        return flag(4, 'c');
    }

    public boolean dying() {
        return flag(5, 'd');
    }

    private boolean flag(int at, char c) {
        return flags != null && flags.length() > at && flags.charAt(at) == c;
    }

    /** The zone state these flags mean; a domain that shut down or dies is on its way out. */
    public ZoneState zoneState() {
        if (crashed()) {
            return ZoneState.CRASHED;
        }
        if (shutdown() || dying()) {
            return ZoneState.STOPPING;
        }
        if (paused()) {
            return ZoneState.PAUSED;
        }
        return ZoneState.RUNNING;
    }
}

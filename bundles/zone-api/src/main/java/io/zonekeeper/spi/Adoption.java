package io.zonekeeper.spi;

import io.zonekeeper.api.ZoneState;

/**
 * The answer to {@link HypervisorDriver#adopt}: either the driver proved the guest is this zone and now watches it
 * (and says what state it is in), or it says why it could not.
 */
public record Adoption(boolean adopted, ZoneState state, String reason) {

    public static Adoption adopted(ZoneState state) {
        return new Adoption(true, state, "");
    }

    /** The guest is gone, or not provably this zone. Nothing was killed. */
    public static Adoption refused(String reason) {
        return new Adoption(false, ZoneState.CRASHED, reason);
    }
}

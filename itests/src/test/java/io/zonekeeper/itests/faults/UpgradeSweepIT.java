package io.zonekeeper.itests.faults;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/**
 * The small version of the upgrade sweep ({@link UpgradeSweep}) for scripts/test: 5 kvm driver upgrades in a row
 * under 2 running zones, on the assembled distribution. No guest may be restarted and every upgrade must adopt
 * every zone; the heartbeat gaps are printed, not asserted (figures go to scripts/bench, 100 upgrades, 5 zones).
 */
public class UpgradeSweepIT {
    @Test
    public void fiveUpgradesInARowRestartNoGuest() throws Exception {
        UpgradeSweep.Result r = UpgradeSweep.run(5, 2);
        assertEquals("failed upgrades: " + r.findings(), 0, r.failed());
        assertEquals("guests restarted: " + r.findings(), 0, r.restarted());
    }
}

package io.zonekeeper.itests.faults;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/**
 * The fast mode of the fault-injection harness ({@link FaultSweep}) for scripts/test: 10 kill -9 points, two of
 * them at the kvm driver's start crash points, each followed by a restart and the invariant check. In a network
 * namespace of its own (src/test/netns/bin/java), so that zones get taps and leases; without one it sweeps
 * without networks. The full 100-point run is scripts/fault-sweep, called from scripts/bench.
 */
public class FaultInjectionNetnsIT {
    @Test
    public void tenKillsAtRandomPointsLoseNothing() throws Exception {
        long seed = Long.getLong("zk.faults.seed", System.currentTimeMillis());
        FaultSweep.Result r = FaultSweep.runInTempState(Integer.getInteger("zk.faults.points", 10), seed,
                "own".equals(System.getenv("ZK_NETNS")));
        assertEquals("points lost (seed " + seed + "): " + r.findings(), 0, r.lost());
    }
}

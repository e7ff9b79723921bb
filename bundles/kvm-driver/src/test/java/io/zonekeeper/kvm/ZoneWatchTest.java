package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;

import java.util.List;
import java.util.Optional;

import org.junit.Test;

public class ZoneWatchTest {
    @Test
    public void theInitsLastExitLineForThisZoneIsTheWorkloadsStatus() {
        List<String> lines = List.of("zonekeeper: zone web workload exited 9", "hello",
                "zonekeeper: zone web workload exited 3\r", "[    1.2] reboot: Power down");
        assertEquals(Optional.of(3), ZoneWatch.workloadExit("web", lines));
    }

    @Test
    public void noLineOrAnotherZonesLineGivesNothing() {
        assertEquals(Optional.empty(), ZoneWatch.workloadExit("web", List.of("zonekeeper: zone web ready")));
        assertEquals(Optional.empty(), ZoneWatch.workloadExit("web",
                List.of("zonekeeper: zone webx workload exited 1")));
    }
}

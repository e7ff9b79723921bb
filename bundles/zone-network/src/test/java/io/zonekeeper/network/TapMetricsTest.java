package io.zonekeeper.network;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;

import java.util.List;
import java.util.Map;

import org.junit.Test;

import io.zonekeeper.api.metrics.ZoneMetric;

public class TapMetricsTest {
    private static final String PROC_NET_DEV = ""
            + "Inter-|   Receive                                                |  Transmit\n"
            + " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
            + "    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0\n"
            + "zk0a1b2c:   1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0\n";

    @Test
    public void eachInterfacesCountersAreRead() {
        Map<String, long[]> c = TapMetrics.parse(PROC_NET_DEV);
        assertArrayEquals(new long[] { 1000, 10, 2000, 20 }, c.get("zk0a1b2c"));
        assertArrayEquals(new long[] { 120, 2, 120, 2 }, c.get("lo"));
        assertFalse(c.containsKey("face |bytes"));
    }

    @Test
    public void aTapsCountersAreTurnedToTheGuestsView() {
        List<ZoneMetric> m = TapMetrics.of("zk0a1b2c", "lan", TapMetrics.parse(PROC_NET_DEV).get("zk0a1b2c"));
        assertEquals(4, m.size());
        assertEquals("what the tap transmits the guest receives", "zonekeeper_zone_network_receive_bytes",
                m.get(0).name());
        assertEquals(2000, m.get(0).value(), 0);
        assertEquals(Map.of("network", "lan", "tap", "zk0a1b2c"), m.get(0).labels());
        assertEquals(1000, m.get(1).value(), 0);
        assertEquals(20, m.get(2).value(), 0);
        assertEquals(10, m.get(3).value(), 0);
    }
}

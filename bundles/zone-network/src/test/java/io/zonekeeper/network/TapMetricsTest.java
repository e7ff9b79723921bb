package io.zonekeeper.network;

import static org.junit.Assert.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.metrics.ZoneMetric;

public class TapMetricsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aTapsCountersAreTurnedToTheGuestsView() throws Exception {
        Path stats = tmp.getRoot().toPath().resolve("zk0a1b2c/statistics");
        Files.createDirectories(stats);
        Files.writeString(stats.resolve("rx_bytes"), "1000\n");
        Files.writeString(stats.resolve("tx_bytes"), "2000\n");
        Files.writeString(stats.resolve("rx_packets"), "10\n");
        Files.writeString(stats.resolve("tx_packets"), "20\n");
        List<ZoneMetric> m = new TapMetrics(tmp.getRoot().toPath()).of("zk0a1b2c", "lan");
        assertEquals(4, m.size());
        assertEquals("what the tap transmits the guest receives", "zonekeeper_zone_network_receive_bytes",
                m.get(0).name());
        assertEquals(2000, m.get(0).value(), 0);
        assertEquals(Map.of("network", "lan", "tap", "zk0a1b2c"), m.get(0).labels());
        assertEquals(1000, m.get(1).value(), 0);
        assertEquals(20, m.get(2).value(), 0);
        assertEquals(10, m.get(3).value(), 0);
    }

    @Test
    public void aTapThatIsGoneHasNoFigures() {
        assertEquals(List.of(), new TapMetrics(tmp.getRoot().toPath()).of("zk-gone", "lan"));
    }
}

package io.zonekeeper.web;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import java.util.List;
import java.util.Set;

import org.junit.Test;

public class MetricsHistoryTest {
    private final MetricsHistory history = new MetricsHistory();

    @Test
    public void cpuPercentIsTheCounterGrowthOverTheTimeBetweenSamples() {
        history.add("a", 1000, 10.0, 5e6);
        history.add("a", 3000, 11.0, 6e6); // one CPU second in two seconds
        List<MetricsHistory.Point> p = history.of("a");
        assertEquals(2, p.size());
        assertEquals(-1, p.get(0).cpuPercent(), 0);
        assertEquals(50.0, p.get(1).cpuPercent(), 1e-9);
        assertEquals(6e6, history.latest("a").memoryBytes(), 0);
    }

    @Test
    public void aCounterThatWentBackStartsOverWithoutAPoint() {
        history.add("a", 1000, 10.0, 1);
        history.add("a", 2000, 0.5, 1); // the guest restarted
        history.add("a", 3000, 1.0, 1);
        assertEquals(-1, history.of("a").get(1).cpuPercent(), 0);
        assertEquals(50.0, history.of("a").get(2).cpuPercent(), 1e-9);
    }

    @Test
    public void boundedPerZoneAndForgetsZonesThatAreGone() {
        for (int i = 0; i < MetricsHistory.POINTS + 50; i++) {
            history.add("a", i * 1000L, i, 1);
            history.add("b", i * 1000L, -1, -1);
        }
        assertEquals(MetricsHistory.POINTS, history.of("a").size());
        assertEquals(50_000, history.of("a").get(0).timeMillis());
        history.retain(Set.of("b"));
        assertEquals(List.of(), history.of("a"));
        assertNull(history.latest("a"));
        assertEquals(-1, history.latest("b").cpuPercent(), 0);
    }
}

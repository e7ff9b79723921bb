package io.zonekeeper.xen.xl;

import static org.junit.Assert.assertEquals;

import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.metrics.ZoneMetric;

public class XlStatsTest {
    private static final String TABLE = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
            + "Domain-0                                     0  1024     2     r-----      81.5\n"
            + "zk my zone                                   7   128     1     -b----       3.2\n";

    @Test
    public void aDomainsCpuTimeAndMemoryComeFromItsRow() {
        List<ZoneMetric> m = XlStats.of(TABLE, 7);
        assertEquals(2, m.size());
        assertEquals("zonekeeper_zone_cpu_seconds", m.get(0).name());
        assertEquals(3.2, m.get(0).value(), 1e-9);
        assertEquals(128.0 * 1024 * 1024, m.get(1).value(), 0);
    }

    @Test
    public void aDomainNotListedHasNoFigures() {
        assertEquals(List.of(), XlStats.of(TABLE, 8));
        assertEquals(List.of(), XlStats.of("", 0));
    }
}

package io.zonekeeper.xen.xl;

import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.metrics.ZoneMetric;

/** A domain's CPU time and memory as plain {@code xl list} prints them (Mem in MiB, Time(s) in seconds). Pure. */
public final class XlStats {
    private XlStats() {
    }

    /** The figures of domain {@code domid}, or none when the table does not list it. */
    public static List<ZoneMetric> of(String table, int domid) {
        for (String line : table.split("\n")) {
            String[] w = line.trim().split("\\s+");
            // Name may hold spaces, so count from the right: ID Mem VCPUs State Time(s)
            if (w.length < 6 || !w[w.length - 5].equals(String.valueOf(domid))) {
                continue;
            }
            try {
                double memMiB = Double.parseDouble(w[w.length - 4]);
                double seconds = Double.parseDouble(w[w.length - 1]);
                List<ZoneMetric> out = new ArrayList<>();
                out.add(ZoneMetric.counter("zonekeeper_zone_cpu_seconds", "CPU time of the zone's domain, all vCPUs "
                        + "(xl list Time(s))", seconds));
                out.add(ZoneMetric.gauge("zonekeeper_zone_memory_bytes", "Memory of the zone's domain (xl list "
                        + "Mem)", memMiB * 1024 * 1024));
                return out;
            } catch (NumberFormatException e) {
                return List.of();
            }
        }
        return List.of();
    }
}

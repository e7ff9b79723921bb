package io.zonekeeper.observe;

import java.util.List;

import io.zonekeeper.api.metrics.ZoneMetric;

/** Every figure the sources gave for one zone at one time. */
record ZoneSample(String zone, String state, String driver, long timeMillis, List<ZoneMetric> metrics) {
    ZoneSample {
        metrics = List.copyOf(metrics);
    }

    /** The sum of every figure of that name (over its labels: all taps, all disks), or -1 when there is none. */
    double sum(String name) {
        double s = 0;
        boolean any = false;
        for (ZoneMetric m : metrics) {
            if (m.name().equals(name)) {
                s += m.value();
                any = true;
            }
        }
        return any ? s : -1;
    }
}

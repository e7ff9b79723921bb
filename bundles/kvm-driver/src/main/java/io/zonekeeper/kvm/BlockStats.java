package io.zonekeeper.kvm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.kvm.qmp.QmpException;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * A zone's disk traffic as QEMU counts it, from QMP {@code query-blockstats} on the driver's own QMP connection
 * (QEMU serves one QMP client at a time on a socket, so nothing else may open it).
 */
final class BlockStats {
    /** A metrics request must never hold a scrape for long: QEMU answers this in microseconds when it is well. */
    static final Duration TIMEOUT = Duration.ofSeconds(1);

    private BlockStats() {
    }

    /** The figures of every block device with a name, or none when QEMU does not answer. */
    static List<ZoneMetric> of(QmpClient qmp) {
        if (qmp == null || !qmp.isOpen()) {
            return List.of();
        }
        try {
            JsonValue v = qmp.executeValue("query-blockstats", null, TIMEOUT);
            return v instanceof JsonArray a ? parse(a) : List.of();
        } catch (QmpException e) {
            return List.of();
        }
    }

    static List<ZoneMetric> parse(JsonArray devices) {
        List<ZoneMetric> out = new ArrayList<>();
        for (JsonValue d : devices) {
            if (!(d instanceof JsonObject o) || !(o.get("stats") instanceof JsonObject s)) {
                continue;
            }
            String name = o.getString("device", "");
            if (name.isEmpty()) {
                name = o.getString("qdev", o.getString("node-name", ""));
            }
            if (name.isEmpty()) {
                continue;
            }
            out.add(counter("zonekeeper_zone_disk_read_bytes", "Bytes the zone read from the disk (QMP "
                    + "query-blockstats rd_bytes)", s, "rd_bytes", name));
            out.add(counter("zonekeeper_zone_disk_write_bytes", "Bytes the zone wrote to the disk (QMP "
                    + "query-blockstats wr_bytes)", s, "wr_bytes", name));
            out.add(counter("zonekeeper_zone_disk_read_ops", "Read requests of the zone to the disk (QMP "
                    + "query-blockstats rd_operations)", s, "rd_operations", name));
            out.add(counter("zonekeeper_zone_disk_write_ops", "Write requests of the zone to the disk (QMP "
                    + "query-blockstats wr_operations)", s, "wr_operations", name));
        }
        return out;
    }

    private static ZoneMetric counter(String metric, String help, JsonObject stats, String key, String device) {
        long v = stats.containsKey(key) ? stats.getJsonNumber(key).longValue() : 0;
        return ZoneMetric.counter(metric, help, Math.max(0, v)).with("device", device);
    }
}

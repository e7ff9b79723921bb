package io.zonekeeper.api.metrics;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * One figure about one zone.
 *
 * @param name   a Prometheus metric name without the {@code _total} of a counter:
 *               {@code zonekeeper_zone_cpu_seconds}; lower case letters, digits and underscores
 * @param type   whether it only grows (a counter, such as CPU time or bytes moved) or goes up and down (a gauge)
 * @param help   one line saying what it counts and where the figure comes from
 * @param labels what tells this figure from others of the same name for the same zone ({@code device=virtio0});
 *               never {@code zone}, which the caller adds
 * @param value  the figure, in base units (seconds, bytes)
 */
public record ZoneMetric(String name, Type type, String help, Map<String, String> labels, double value) {
    private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_]{0,127}");
    private static final Pattern LABEL = Pattern.compile("[a-z_][a-z0-9_]{0,63}");

    /** What kind of figure it is. */
    public enum Type {
        /** Only grows while the zone's guest runs (it may start over when the guest restarts). */
        COUNTER,
        /** Goes up and down. */
        GAUGE
    }

    /** Checks every field, so that a bad source fails where it is written, not in a scraper. */
    public ZoneMetric {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a metric name is lower case letters, digits and underscores, not "
                    + name);
        }
        if (type == Type.COUNTER && name.endsWith("_total")) {
            throw new IllegalArgumentException("counter " + name + ": leave out _total, the exposition adds it");
        }
        if (type == null || help == null) {
            throw new IllegalArgumentException("metric " + name + " needs a type and a help text");
        }
        labels = labels == null ? Map.of() : new TreeMap<>(labels);
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!LABEL.matcher(e.getKey()).matches() || e.getKey().equals("zone") || e.getValue() == null) {
                throw new IllegalArgumentException("metric " + name + ": bad label " + e.getKey() + "="
                        + e.getValue() + " (lower case name, not 'zone', with a value)");
            }
        }
        labels = Map.copyOf(labels);
        if (Double.isNaN(value) || (type == Type.COUNTER && value < 0)) {
            throw new IllegalArgumentException("metric " + name + ": " + value + " is not a valid "
                    + type.name().toLowerCase() + " value");
        }
    }

    /** A counter without labels. */
    public static ZoneMetric counter(String name, String help, double value) {
        return new ZoneMetric(name, Type.COUNTER, help, Map.of(), value);
    }

    /** A gauge without labels. */
    public static ZoneMetric gauge(String name, String help, double value) {
        return new ZoneMetric(name, Type.GAUGE, help, Map.of(), value);
    }

    /** The same figure with one more label. */
    public ZoneMetric with(String label, String value) {
        Map<String, String> m = new TreeMap<>(labels);
        m.put(label, value);
        return new ZoneMetric(name, type, help, m, this.value);
    }
}

package io.zonekeeper.observe;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.zonekeeper.api.metrics.ZoneMetric;

/**
 * The Prometheus text exposition (format 0.0.4) of zone samples, written by the Prometheus Java client's own
 * writer: figures of one name from every zone become one metric family with a {@code zone} label, and each zone gets
 * {@code zonekeeper_zone_up} (1 while its guest is active) with its state and driver as labels.
 */
final class PrometheusText {
    static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    /** One figure with the zone it is about. */
    private record Point(String zone, ZoneMetric metric) {
    }

    private PrometheusText() {
    }

    static String of(List<ZoneSample> samples) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            write(samples, out);
        } catch (IOException e) {
            throw new IllegalStateException(e); // not from a byte array
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    static void write(List<ZoneSample> samples, OutputStream out) throws IOException {
        Map<String, List<Point>> byName = new LinkedHashMap<>();
        Map<String, ZoneMetric> first = new LinkedHashMap<>();
        GaugeSnapshot.Builder up = GaugeSnapshot.builder().name("zonekeeper_zone_up")
                .help("1 while the zone's guest is active (starting, running, paused, stopping), else 0");
        for (ZoneSample s : samples) {
            boolean active = switch (s.state()) {
                case "STARTING", "RUNNING", "PAUSED", "STOPPING" -> true;
                default -> false;
            };
            up.dataPoint(GaugeDataPointSnapshot.builder().value(active ? 1 : 0)
                    .labels(Labels.of("zone", s.zone(), "state", s.state(), "driver", s.driver())).build());
            for (ZoneMetric m : s.metrics()) {
                ZoneMetric seen = first.putIfAbsent(m.name(), m);
                if (seen != null && seen.type() != m.type()) {
                    continue; // two sources disagree on the kind of a name: the first one's stands
                }
                List<Point> family = byName.computeIfAbsent(m.name(), k -> new ArrayList<>());
                // Two sources that count the same series for one zone: the first one's stands (the text format
                // allows a series once).
                if (family.stream().noneMatch(p -> p.zone().equals(s.zone()) && p.metric().labels().equals(
                        m.labels()))) {
                    family.add(new Point(s.zone(), m));
                }
            }
        }
        List<MetricSnapshot> families = new ArrayList<>();
        families.add(up.build());
        for (Map.Entry<String, List<Point>> e : byName.entrySet()) {
            ZoneMetric proto = first.get(e.getKey());
            if (proto.type() == ZoneMetric.Type.COUNTER) {
                CounterSnapshot.Builder b = CounterSnapshot.builder().name(e.getKey()).help(proto.help());
                for (Point p : e.getValue()) {
                    b.dataPoint(CounterDataPointSnapshot.builder().value(p.metric().value()).labels(labels(p)).build());
                }
                families.add(b.build());
            } else {
                GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(e.getKey()).help(proto.help());
                for (Point p : e.getValue()) {
                    b.dataPoint(GaugeDataPointSnapshot.builder().value(p.metric().value()).labels(labels(p)).build());
                }
                families.add(b.build());
            }
        }
        new PrometheusTextFormatWriter(false).write(out, new MetricSnapshots(families));
    }

    private static Labels labels(Point p) {
        Labels l = Labels.of("zone", p.zone());
        for (Map.Entry<String, String> e : p.metric().labels().entrySet()) {
            l = l.add(e.getKey(), e.getValue());
        }
        return l;
    }
}

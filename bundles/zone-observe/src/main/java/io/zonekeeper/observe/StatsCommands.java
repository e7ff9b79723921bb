package io.zonekeeper.observe;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.metrics.ZoneMetric;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;

/** {@code zone:stats}, {@code zone:top} and {@code zone:metrics}: what zones use, from every metrics source. */
@Component(service = StatsCommands.class)
@GogoCommand(scope = "zone", function = { "stats", "top", "metrics" })
public class StatsCommands {
    static final String CPU = "zonekeeper_zone_cpu_seconds";
    static final String RSS = "zonekeeper_zone_memory_rss_bytes";
    static final String MEMORY = "zonekeeper_zone_memory_bytes";
    static final String NET_RX = "zonekeeper_zone_network_receive_bytes";
    static final String NET_TX = "zonekeeper_zone_network_transmit_bytes";
    static final String DISK_RD = "zonekeeper_zone_disk_read_bytes";
    static final String DISK_WR = "zonekeeper_zone_disk_write_bytes";

    @Reference
    MetricsCollector collector;

    @Descriptor("Show every figure the metrics sources count for a zone (CPU, memory, network, disks, channels)")
    public String stats(
            @Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("zone name") String name) throws ZoneException {
        ZoneSample s = collector.sample(name).orElseThrow(() -> new ZoneException("no zone named '" + name
                + "'; zone:list shows the zones there are"));
        if (json) {
            return json(s);
        }
        StringBuilder b = new StringBuilder("zone " + s.zone() + " (" + s.state() + ", driver " + s.driver() + ")\n");
        if (s.metrics().isEmpty()) {
            b.append("no figures: nothing counts for a zone whose guest does not run\n");
        }
        for (ZoneMetric m : s.metrics()) {
            b.append(String.format(Locale.ROOT, "  %-44s %-30s %s%n", m.name() + (m.type() == ZoneMetric.Type.COUNTER
                    ? "_total" : ""), m.labels().isEmpty() ? "" : m.labels().toString(), number(m.value())));
        }
        return b.toString().stripTrailing();
    }

    static String json(ZoneSample s) {
        JsonArrayBuilder metrics = Json.createArrayBuilder();
        for (ZoneMetric m : s.metrics()) {
            JsonObjectBuilder labels = Json.createObjectBuilder();
            m.labels().forEach(labels::add);
            metrics.add(Json.createObjectBuilder().add("name", m.name()).add("type", m.type().name().toLowerCase(
                    Locale.ROOT)).add("labels", labels).add("value", m.value()).add("help", m.help()));
        }
        return Json.createObjectBuilder().add("zone", s.zone()).add("state", s.state()).add("driver", s.driver())
                .add("time", s.timeMillis()).add("metrics", metrics).build().toString();
    }

    @Descriptor("Print every zone metric in the Prometheus text format (what a scraper reads)")
    public String metrics() {
        return PrometheusText.of(collector.sampleAll()).stripTrailing();
    }

    @Descriptor("A table of the zones sorted by CPU use, refreshed every --interval seconds on a terminal; printed "
            + "once with -n 1 or when not on a terminal")
    public void top(CommandSession session,
            @Descriptor("how many tables to print (0: until interrupted; 1 when not on a terminal)") @Parameter(names = { "-n", "--count" }, absentValue = "0") int count,
            @Descriptor("seconds between tables; CPU % is measured over it") @Parameter(names = { "-d", "--interval" }, absentValue = "2") int interval)
            throws Exception {
        if (count < 0 || interval < 1) {
            throw new ZoneException("zone:top: -n takes 0 or more, --interval 1 or more seconds");
        }
        // A shell on a terminal has a JLine terminal and a console; a control-socket or scripted session has neither.
        boolean terminal = session != null && session.get(".jline.terminal") != null && System.console() != null;
        int tables = count == 0 ? (terminal ? Integer.MAX_VALUE : 1) : count;
        PrintStream out = System.out;
        List<ZoneSample> before = collector.sampleAll();
        try {
            for (int i = 0; i < tables; i++) {
                Thread.sleep(interval * 1000L);
                List<ZoneSample> now = collector.sampleAll();
                if (terminal && tables > 1) {
                    out.print("\033[H\033[2J"); // home and clear: the table refreshes in place
                }
                out.println(table(before, now));
                out.flush();
                before = now;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // Ctrl-C ends it
        }
    }

    /** One line per zone: CPU % over the time between the two samples, then totals; busiest first. */
    static String table(List<ZoneSample> before, List<ZoneSample> now) {
        Map<String, ZoneSample> earlier = new HashMap<>();
        before.forEach(s -> earlier.put(s.zone(), s));
        record Row(ZoneSample s, double cpuPercent) {
        }
        List<Row> rows = new ArrayList<>();
        for (ZoneSample s : now) {
            ZoneSample b = earlier.get(s.zone());
            double pct = -1;
            if (b != null && s.sum(CPU) >= 0 && b.sum(CPU) >= 0 && s.timeMillis() > b.timeMillis()) {
                pct = Math.max(0, (s.sum(CPU) - b.sum(CPU)) * 100_000.0 / (s.timeMillis() - b.timeMillis()));
            }
            rows.add(new Row(s, pct));
        }
        rows.sort(Comparator.comparingDouble(Row::cpuPercent).reversed().thenComparing(r -> r.s().zone()));
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT, "%-16s %-9s %-6s %6s %10s %10s %10s %10s %10s %10s",
                "ZONE", "STATE", "DRIVER", "CPU%", "CPU-TIME", "MEMORY", "NET-RX", "NET-TX", "DISK-RD", "DISK-WR"));
        for (Row r : rows) {
            ZoneSample s = r.s();
            double mem = s.sum(RSS) >= 0 ? s.sum(RSS) : s.sum(MEMORY);
            t.append(String.format(Locale.ROOT, "%n%-16s %-9s %-6s %6s %10s %10s %10s %10s %10s %10s", s.zone(),
                    s.state(), s.driver(), r.cpuPercent() < 0 ? "-" : String.format(Locale.ROOT, "%.1f",
                            r.cpuPercent()), s.sum(CPU) < 0 ? "-" : String.format(Locale.ROOT, "%.2fs", s.sum(CPU)),
                    bytes(mem), bytes(s.sum(NET_RX)), bytes(s.sum(NET_TX)), bytes(s.sum(DISK_RD)),
                    bytes(s.sum(DISK_WR))));
        }
        if (rows.isEmpty()) {
            t.append("\nno zones");
        }
        return t.toString();
    }

    static String bytes(double b) {
        if (b < 0) {
            return "-";
        }
        String[] units = { "B", "KiB", "MiB", "GiB", "TiB" };
        int u = 0;
        while (b >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        return u == 0 ? String.format(Locale.ROOT, "%.0f%s", b, units[u]) : String.format(Locale.ROOT, "%.1f%s", b,
                units[u]);
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.3f", v);
    }
}

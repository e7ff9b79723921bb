package io.zonekeeper.observe;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import com.sun.net.httpserver.HttpServer;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.api.metrics.ZoneMetric;

public class MetricsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void cpuTimeAndRssComeFromProcFilesEvenWithSpacesInTheCommandName() throws Exception {
        Path proc = tmp.getRoot().toPath();
        Files.createDirectories(proc.resolve("4242"));
        Files.writeString(proc.resolve("4242/stat"), "4242 (qemu system (x) 86) S 1 4242 4242 0 -1 4194560 5000 0 0 "
                + "0 250 130 0 0 20 0 3 0 12345 1000000 2000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n");
        Files.writeString(proc.resolve("4242/status"), "Name:\tqemu\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\n");
        List<ZoneMetric> m = new ProcessMetrics(proc).collect(zone("a", ZoneState.RUNNING, Map.of("pid", "4242")));
        assertEquals(2, m.size());
        assertEquals("zonekeeper_zone_cpu_seconds", m.get(0).name());
        assertEquals(ZoneMetric.Type.COUNTER, m.get(0).type());
        assertEquals(3.8, m.get(0).value(), 1e-9);
        assertEquals(ZoneMetric.gauge("zonekeeper_zone_memory_rss_bytes", m.get(1).help(), 2048 * 1024), m.get(1));
        assertArrayEquals(new double[] { 2.5, 1.3 }, ProcessMetrics.cpuSeconds(Files.readString(proc.resolve(
                "4242/stat"))), 1e-9);
    }

    @Test
    public void aZoneThatDoesNotRunOrWhosePidIsOddHasNoProcessFigures() {
        ProcessMetrics p = new ProcessMetrics(tmp.getRoot().toPath());
        assertEquals(List.of(), p.collect(zone("a", ZoneState.STOPPED, Map.of("pid", "1"))));
        assertEquals(List.of(), p.collect(zone("a", ZoneState.RUNNING, Map.of("pid", "../etc"))));
        assertEquals(List.of(), p.collect(zone("a", ZoneState.RUNNING, Map.of("pid", "999999"))));
    }

    @Test
    public void badMetricsAreRefusedWhereTheyAreMade() {
        for (Runnable bad : List.<Runnable>of(() -> ZoneMetric.counter("Bad-Name", "h", 1),
                () -> ZoneMetric.counter("x_total", "h", 1), () -> ZoneMetric.counter("x", "h", -1),
                () -> ZoneMetric.gauge("x", "h", 1).with("zone", "y"), () -> ZoneMetric.gauge("x", "h", Double.NaN))) {
            try {
                bad.run();
                throw new AssertionError("accepted");
            } catch (IllegalArgumentException expected) {
                // named
            }
        }
    }

    @Test
    public void theExpositionHasOneFamilyPerNameWithZoneLabels() {
        ZoneSample a = new ZoneSample("a", "RUNNING", "kvm", 1, List.of(ZoneMetric.counter("zonekeeper_zone_cpu_seconds",
                "cpu", 1.5), ZoneMetric.counter("zonekeeper_zone_network_receive_bytes", "rx", 10).with("tap", "zk1")));
        ZoneSample b = new ZoneSample("b", "STOPPED", "-", 1, List.of(ZoneMetric.counter(
                "zonekeeper_zone_cpu_seconds", "cpu", 2)));
        String text = PrometheusText.of(List.of(a, b));
        assertTrue(text, text.contains("# TYPE zonekeeper_zone_cpu_seconds_total counter\n"
                + "zonekeeper_zone_cpu_seconds_total{zone=\"a\"} 1.5\nzonekeeper_zone_cpu_seconds_total{zone=\"b\"} 2.0\n"));
        assertTrue(text, text.contains("zonekeeper_zone_network_receive_bytes_total{tap=\"zk1\",zone=\"a\"} 10.0\n"));
        assertTrue(text, text.contains("zonekeeper_zone_up{driver=\"kvm\",state=\"RUNNING\",zone=\"a\"} 1.0\n"));
        assertTrue(text, text.contains("zonekeeper_zone_up{driver=\"-\",state=\"STOPPED\",zone=\"b\"} 0.0\n"));
    }

    @Test
    public void aSeriesTwoSourcesCountIsWrittenOnceTheFirstOnesValue() {
        ZoneSample a = new ZoneSample("a", "RUNNING", "xen", 1, List.of(ZoneMetric.counter("zonekeeper_zone_cpu_seconds",
                "cpu", 1), ZoneMetric.counter("zonekeeper_zone_cpu_seconds", "cpu", 2)));
        String text = PrometheusText.of(List.of(a));
        assertTrue(text, text.contains("zonekeeper_zone_cpu_seconds_total{zone=\"a\"} 1.0\n"));
        assertEquals(text, -1, text.indexOf("} 2.0"));
    }

    @Test
    public void topSortsByCpuShareOverTheInterval() {
        List<ZoneSample> before = List.of(cpu("idle", 0, 10.0), cpu("busy", 0, 1.0));
        List<ZoneSample> now = List.of(cpu("idle", 2000, 10.1), cpu("busy", 2000, 2.9));
        String[] lines = StatsCommands.table(before, now).split("\n");
        assertTrue(lines[0], lines[0].startsWith("ZONE"));
        assertTrue(lines[1], lines[1].startsWith("busy ") && lines[1].contains(" 95.0 "));
        assertTrue(lines[2], lines[2].startsWith("idle ") && lines[2].contains(" 5.0 "));
        assertEquals("1.5KiB", StatsCommands.bytes(1536));
    }

    @Test
    public void theHttpEndpointServesTheTextOnlyAtMetrics() throws Exception {
        ZoneInfo z = zone("web", ZoneState.RUNNING, Map.of());
        MetricsCollector collector = new MetricsCollector(manager(z), List.of(zone -> List.of(ZoneMetric.counter(
                "zonekeeper_zone_cpu_seconds", "cpu", 4))));
        HttpServer server = MetricsHttp.start(new InetSocketAddress("127.0.0.1", 0), collector);
        try {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode());
            assertTrue(ok.body(), ok.body().contains("zonekeeper_zone_cpu_seconds_total{zone=\"web\"} 4.0"));
            assertTrue(ok.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
            assertEquals(404, http.send(HttpRequest.newBuilder(URI.create(base + "/other")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
        } finally {
            server.stop(0);
        }
    }

    @Test
    public void anHttpAddressMustBeHostAndPort() {
        assertEquals(9464, MetricsHttp.parse("127.0.0.1:9464").getPort());
        assertTrue(MetricsHttp.parse("[::1]:9464").getAddress() instanceof java.net.Inet6Address);
        assertTrue(MetricsHttp.parse("[::1]:9464").getAddress().isLoopbackAddress());
        for (String bad : List.of("9464", "localhost", ":80", "host:99999", "host:x")) {
            try {
                MetricsHttp.parse(bad);
                throw new AssertionError(bad + " accepted");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(bad));
            }
        }
    }

    private static ZoneSample cpu(String zone, long time, double seconds) {
        return new ZoneSample(zone, "RUNNING", "kvm", time, List.of(ZoneMetric.counter("zonekeeper_zone_cpu_seconds",
                "cpu", seconds)));
    }

    private static ZoneInfo zone(String name, ZoneState state, Map<String, String> runtime) {
        return new ZoneInfo(UUID.randomUUID(), ZoneSpec.builder(name).build(), state, "", "kvm", true, runtime,
                Instant.EPOCH);
    }

    /** Only what the collector asks: the zones there are. */
    private static ZoneManager manager(ZoneInfo... zones) {
        return new ZoneManager() {
            @Override
            public List<ZoneInfo> list() {
                return List.of(zones);
            }

            @Override
            public Optional<ZoneInfo> get(String name) {
                return list().stream().filter(z -> z.name().equals(name)).findFirst();
            }

            @Override
            public ZoneInfo create(ZoneSpec spec) {
                throw new UnsupportedOperationException();
            }

            @Override
            public ZoneInfo start(String name) {
                throw new UnsupportedOperationException();
            }

            @Override
            public ZoneInfo stop(String name, java.time.Duration grace) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void destroy(String name) {
                throw new UnsupportedOperationException();
            }

            @Override
            public ZoneInfo await(String name, Set<ZoneState> states, java.time.Duration timeout) throws ZoneException {
                throw new UnsupportedOperationException();
            }

            @Override
            public Path consoleLog(String name) {
                throw new UnsupportedOperationException();
            }
        };
    }
}

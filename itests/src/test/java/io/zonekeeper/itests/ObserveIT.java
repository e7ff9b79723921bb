package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.event.Event;
import org.osgi.service.event.EventConstants;
import org.osgi.service.event.EventHandler;

import io.zonekeeper.api.ZoneManager;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * Events, metrics and their Prometheus text on a real zone: a QEMU guest whose init runs a busy loop, a driver
 * upgrade, the guest's QEMU killed by PID, and a destroy, all seen through the real Event Admin.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ObserveIT {
    private static final Path STATE = Containers.newStateDir("observe");
    /** Debian's interpreter, where python3-prometheus-client installs (scripts/setup), not a pyenv shim. */
    private static final String PYTHON = "/usr/bin/python3";

    @Inject
    BundleContext context;
    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    private final List<Event> seen = new CopyOnWriteArrayList<>();
    private ServiceRegistration<EventHandler> handler;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.observe() };
    }

    @After
    public void cleanUp() {
        if (handler != null) {
            handler.unregister();
        }
        Containers.destroyAllZones(zones, shell);
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private void subscribe() {
        Dictionary<String, Object> p = new Hashtable<>();
        p.put(EventConstants.EVENT_TOPIC, "io/zonekeeper/*");
        handler = context.registerService(EventHandler.class, seen::add, p);
    }

    @Test
    public void lifecycleEventsComeInOrderWithReasonsAndMetricsGrow() throws Exception {
        subscribe();
        sh("zone:create --hypervisor kvm --memory 128 --cmdline 'zk.run=\"while :; do :; done\"' busy");
        sh("zone:start busy");
        sh("zone:wait --timeout 120 --console 'zonekeeper: zone busy ready' busy");

        // CPU time of the busy guest's QEMU rises from sample to sample.
        double cpu1 = cpuSeconds(sh("zone:stats --json busy"));
        Thread.sleep(1500);
        double cpu2 = cpuSeconds(sh("zone:stats --json busy"));
        assertTrue("CPU time rises in a busy zone: " + cpu1 + " then " + cpu2, cpu2 > cpu1);
        String top = sh("zone:top -n 1 -d 1");
        assertTrue("zone:top lists the zone with a CPU share: " + top, top.lines().anyMatch(l -> l.startsWith("busy ")
                && !l.split(" +")[3].equals("-")));

        // Two scrapes, parsed by Python's prometheus_client: every counter only grows.
        Map<String, Double> first = parse(sh("zone:metrics"));
        Thread.sleep(1000);
        Map<String, Double> second = parse(sh("zone:metrics"));
        String cpuSeries = "zonekeeper_zone_cpu_seconds_total{zone=busy}";
        assertTrue("the scrape has the zone's CPU time: " + first.keySet(), first.containsKey(cpuSeries));
        assertTrue(first.get(cpuSeries) + " then " + second.get(cpuSeries), second.get(cpuSeries) > first.get(cpuSeries));
        for (Map.Entry<String, Double> e : first.entrySet()) {
            if (e.getKey().contains("_total{")) {
                assertTrue("counter " + e.getKey() + " went from " + e.getValue() + " to " + second.get(e.getKey()),
                        second.get(e.getKey()) >= e.getValue());
            }
        }

        String upgraded = sh("driver:upgrade kvm " + Containers.testBuild("kvm-driver-next"));
        assertTrue(upgraded, upgraded.contains("adopted 1 zone"));

        long pid = Long.parseLong(zones.get("busy").orElseThrow().runtime().get("pid"));
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        sh("zone:wait --timeout 60 busy CRASHED");
        sh("zone:destroy busy");

        List<String> wanted = List.of("zone/CREATED", "zone/STARTING", "zone/STARTED", "driver/UPGRADE_BEGAN",
                "zone/ADOPTED", "driver/UPGRADE_FINISHED", "zone/CRASHED", "zone/DESTROYED");
        List<Event> events = awaitEvents(wanted.get(wanted.size() - 1));
        List<String> topics = new ArrayList<>();
        for (Event e : events) {
            topics.add(e.getTopic().substring("io/zonekeeper/".length()));
        }
        int at = -1;
        for (String w : wanted) {
            int next = topics.subList(at + 1, topics.size()).indexOf(w);
            assertTrue(w + " comes after " + (at < 0 ? "nothing" : topics.get(at)) + " in " + topics, next >= 0);
            at += 1 + next;
            Event e = events.get(at);
            assertFalse(w + " has a reason", String.valueOf(e.getProperty("reason")).isEmpty()
                    && !w.equals("driver/UPGRADE_BEGAN"));
            if (w.startsWith("zone/")) {
                assertEquals(w, "busy", e.getProperty("zone"));
            } else {
                assertEquals(w, "kvm", e.getProperty("driver"));
            }
        }
        Event crash = events.get(topics.indexOf("zone/CRASHED"));
        assertEquals("CRASHED", crash.getProperty("state"));
        assertTrue("the crash quotes the guest's last console lines: " + crash.getProperty("console"),
                String.valueOf(crash.getProperty("console")).contains("zonekeeper: zone busy ready"));

        // The same events are in the bounded log, on disk, and zone:events shows them.
        String log = sh("zone:events --json --zone busy -n 1000");
        assertTrue(log, log.contains("\"kind\":\"CRASHED\"") && log.contains("\"kind\":\"DESTROYED\""));
        assertTrue(Files.readString(STATE.resolve("events/events.jsonl")).contains("\"kind\":\"ADOPTED\""));
    }

    private List<Event> awaitEvents(String lastTopic) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (seen.stream().noneMatch(e -> e.getTopic().endsWith(lastTopic))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + lastTopic + " event; seen " + seen.stream().map(Event::getTopic).toList());
            }
            Thread.sleep(50);
        }
        return new ArrayList<>(seen);
    }

    private static double cpuSeconds(String statsJson) {
        JsonObject o = Json.createReader(new StringReader(statsJson)).readObject();
        for (JsonValue v : o.getJsonArray("metrics")) {
            JsonObject m = v.asJsonObject();
            if (m.getString("name").equals("zonekeeper_zone_cpu_seconds")) {
                return m.getJsonNumber("value").doubleValue();
            }
        }
        throw new AssertionError("no CPU time in " + statsJson);
    }

    /**
     * Every sample of the exposition as {@code NAME{label=value,...}} to its value, through prometheus_client's own
     * text parser, which refuses text that does not follow the format.
     */
    private static Map<String, Double> parse(String text) throws Exception {
        Path file = Files.createTempFile(STATE, "scrape", ".txt");
        Files.writeString(file, text + "\n");
        String script = "import sys\n"
                + "from prometheus_client.parser import text_string_to_metric_families\n"
                + "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
                + "    for s in f.samples:\n"
                + "        l = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))\n"
                + "        print('%s{%s} %r' % (s.name, l, s.value))\n";
        Process p = new ProcessBuilder(PYTHON, "-c", script, file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals("prometheus_client parsed the text (install python3-prometheus-client: scripts/setup):\n" + out
                + "\ntext:\n" + text, 0, p.waitFor());
        Map<String, Double> samples = new HashMap<>();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        assertFalse("the scrape has samples", samples.isEmpty());
        return samples;
    }
}

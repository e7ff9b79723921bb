package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

/** The events the core posts, through a sink that keeps them, on a registry with a scripted driver. */
public class LifecycleEventsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path state;
    private ZoneRegistry registry;
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final List<Map<String, Object>> properties = new CopyOnWriteArrayList<>();
    private final LifecycleEvents.Sink sink = (topic, p) -> {
        events.add(topic.substring("io/zonekeeper/".length()) + " " + p.get("zone") + " " + p.get("state") + " "
                + p.get("driver"));
        properties.add(p);
    };

    @Before
    public void setUp() throws Exception {
        ScriptedDriver.HOST.clear();
        state = tmp.newFolder("state").toPath();
        registry = open();
    }

    @After
    public void tearDown() {
        registry.close();
    }

    private ZoneRegistry open() throws Exception {
        ZoneRegistry r = new ZoneRegistry();
        r.lifecycleEvents().sink(sink);
        r.open(state, tmp.getRoot().toPath().resolve("none"), Duration.ofMillis(300), Duration.ofSeconds(1));
        return r;
    }

    /** A zone created and started on a scripted kvm driver, which is returned. */
    private ScriptedDriver started(String zone) throws Exception {
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        registry.addDriver(new DriverBinding(kvm, "kvm-driver", "1.0.0", 1));
        registry.create(ZoneSpec.builder(zone).hypervisor("kvm").build());
        registry.start(zone);
        return kvm;
    }

    @Test
    public void createStartCrashAndDestroyArePostedInOrderWithReasons() throws Exception {
        ScriptedDriver kvm = started("web");
        Path log = state.resolve("zones/web/console.log");
        Files.writeString(log, "boot\nzonekeeper: zone web ready\nKernel panic \u001b[2J not syncing\n");
        kvm.lastStarted.report(ZoneState.CRASHED, "QEMU exited with signal 9");
        registry.destroy("web");

        assertEquals(List.of("zone/CREATED web DEFINED -", "zone/STARTING web STARTING kvm",
                "zone/STARTED web RUNNING kvm", "zone/CRASHED web CRASHED kvm", "zone/DESTROYED web - -"), events);
        assertEquals("started on kvm-driver 1.0.0", properties.get(2).get("reason"));
        assertEquals("QEMU exited with signal 9", properties.get(3).get("reason"));
        assertEquals("the crash quotes the console's last lines, escaped",
                "boot\nzonekeeper: zone web ready\nKernel panic \\x1b[2J not syncing", properties.get(3).get("console"));
        assertTrue(properties.get(4).get("time") instanceof Long);
    }

    @Test
    public void aZoneAdoptedAfterARestartIsPostedAsAdopted() throws Exception {
        started("db");
        registry.close();
        events.clear();
        properties.clear();

        registry = open();
        registry.addDriver(new DriverBinding(new ScriptedDriver("kvm"), "kvm-driver", "1.0.1", 2));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (events.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(List.of("zone/ADOPTED db RUNNING kvm"), events);
        assertEquals("adopted by kvm-driver 1.0.1", properties.get(0).get("reason"));
    }

    @Test
    public void aSinkThatFailsNeverFailsTheChangeItReports() throws Exception {
        registry.lifecycleEvents().sink((topic, p) -> {
            throw new IllegalStateException("event admin gone");
        });
        registry.create(ZoneSpec.builder("calm").build());
        assertEquals(ZoneState.DEFINED, registry.get("calm").orElseThrow().state());
        assertFalse(registry.list().isEmpty());
    }

    @Test
    public void kindsNameWhatAChangeMeans() {
        assertEquals("CREATED", LifecycleEvents.kind(null, ZoneState.DEFINED, "created"));
        assertEquals("STARTED", LifecycleEvents.kind(ZoneState.STARTING, ZoneState.RUNNING, "started"));
        assertEquals("RESUMED", LifecycleEvents.kind(ZoneState.PAUSED, ZoneState.RUNNING, "resumed"));
        assertEquals("STOPPED", LifecycleEvents.kind(ZoneState.STOPPING, ZoneState.STOPPED, "stopped"));
        assertEquals("DESTROYED", LifecycleEvents.kind(ZoneState.STOPPED, null, "destroyed"));
    }
}

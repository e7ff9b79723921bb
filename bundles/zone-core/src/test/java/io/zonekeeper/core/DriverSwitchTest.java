package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.core.store.ZoneStore;

/**
 * What a driver upgrade does in zone-core around the switch: the new bundle's driver is bound beside the running
 * one but held back (staged) until the switch, and the adoptions at the switch store their records only once
 * every zone is adopted, never over a newer record.
 */
public class DriverSwitchTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private final ZoneRegistry registry = new ZoneRegistry();
    private Path state;

    @Before
    public void open() throws Exception {
        ScriptedDriver.HOST.clear();
        ScriptedDriver.HOLDER.clear();
        ScriptedDriver.ONE_CONNECTION = false;
        state = tmp.newFolder("state").toPath();
        registry.open(state, tmp.newFolder("zones").toPath(), Duration.ofMillis(300), Duration.ofSeconds(1));
    }

    @After
    public void close() {
        ScriptedDriver.ONE_CONNECTION = false;
        registry.close();
    }

    private Map<String, ZoneRecord> stored() throws Exception {
        return new ZoneStore(state).loadAll(new ArrayList<>()).stream()
                .collect(Collectors.toMap(r -> r.spec().name(), Function.identity()));
    }

    @Test
    public void aStagedDriverIsBoundButNeverActiveUntilTheSwitch() throws Exception {
        ScriptedDriver old = new ScriptedDriver("kvm");
        DriverBinding running = new DriverBinding(old, 10, 0, "kvm-driver", "1.0.0", 5);
        registry.addDriver(running);
        registry.create(ZoneSpec.builder("a").hypervisor("kvm").memoryMiB(64).build());
        registry.start("a");

        // Ranked higher: without the stage it would be active at once, while the old one still holds the guests.
        ScriptedDriver next = new ScriptedDriver("kvm");
        registry.stage(6);
        DriverBinding staged = new DriverBinding(next, 11, 1000, "kvm-driver", "1.0.1", 6);
        registry.addDriver(staged);
        registry.awaitReconciler();
        assertSame(staged, registry.awaitBound("kvm", 6, Duration.ofSeconds(1)));
        assertSame(running, registry.activeDriver("kvm"));
        assertTrue(registry.get("a").orElseThrow().driverAttached());

        registry.removeDriver(old);
        assertEquals("while the old driver goes and the new one is staged, none is active", null,
                registry.activeDriver("kvm"));
        registry.awaitReconciler();
        assertTrue("nothing reached the staged driver: " + next.calls, next.calls.isEmpty());

        registry.unstage(6);
        assertSame(staged, registry.activeDriver("kvm"));
        assertTrue(registry.adoptAllNow("kvm").isEmpty());
        assertEquals(List.of("adopt a"), next.calls);
    }

    @Test
    public void theSwitchStoresAdoptedRecordsAfterEveryZoneIsAdoptedAndNeverOverANewerOne() throws Exception {
        ScriptedDriver old = new ScriptedDriver("kvm");
        registry.addDriver(new DriverBinding(old, 10, 0, "kvm-driver", "1.0.0", 5));
        for (String z : List.of("a", "b", "c")) {
            registry.create(ZoneSpec.builder(z).hypervisor("kvm").memoryMiB(64).build());
            registry.start(z);
        }
        ScriptedDriver next = new ScriptedDriver("kvm");
        registry.stage(6);
        registry.addDriver(new DriverBinding(next, 11, 0, "kvm-driver", "1.0.1", 6));
        registry.removeDriver(old);
        registry.awaitReconciler();
        registry.unstage(6);

        List<Runnable> later = Collections.synchronizedList(new ArrayList<>());
        assertTrue(registry.adoptAllNow("kvm", later).isEmpty());
        assertEquals("each adoption left its record write for later", 3, later.size());
        for (String z : List.of("a", "b", "c")) {
            assertTrue(registry.get(z).orElseThrow().driverAttached());
            assertEquals("adopted by kvm-driver 1.0.1", registry.get(z).orElseThrow().reason());
            assertFalse("not stored yet: " + stored().get(z).reason(),
                    stored().get(z).reason().startsWith("adopted"));
        }
        // A command between the window and the deferred writes stores its own, newer record first.
        registry.stop("b", Duration.ofSeconds(1));
        assertEquals(ZoneState.STOPPED, stored().get("b").state());

        registry.finishAdoptions(later);
        Map<String, ZoneRecord> after = stored();
        assertEquals("adopted by kvm-driver 1.0.1", after.get("a").reason());
        assertEquals(ZoneState.RUNNING, after.get("a").state());
        assertEquals("adopted by kvm-driver 1.0.1", after.get("c").reason());
        assertEquals("the deferred write did not bring back the stopped zone's older record", ZoneState.STOPPED,
                after.get("b").state());
        assertEquals(ZoneState.STOPPED, registry.get("b").orElseThrow().state());
        assertNotNull(after.get("a").since());
    }

    /**
     * The switch keeps the running driver bound: the new one becomes active, and each zone is let go by the running
     * driver before the new one adopts it (a guest serves one control connection at a time), so the running bundle
     * can stop after the window. A rollback switches back the same way.
     */
    @Test
    public void atTheSwitchTheRunningDriverLetsGoOfEachZoneJustBeforeTheNewOneAdoptsIt() throws Exception {
        ScriptedDriver.ONE_CONNECTION = true;
        ScriptedDriver old = new ScriptedDriver("kvm");
        DriverBinding running = new DriverBinding(old, 10, 0, "kvm-driver", "1.0.0", 5);
        registry.addDriver(running);
        for (String z : List.of("a", "b", "c")) {
            registry.create(ZoneSpec.builder(z).hypervisor("kvm").memoryMiB(64).build());
            registry.start(z);
        }
        ScriptedDriver next = new ScriptedDriver("kvm");
        registry.stage(6);
        DriverBinding staged = new DriverBinding(next, 11, 0, "kvm-driver", "1.0.1", 6);
        registry.addDriver(staged);
        registry.awaitReconciler();

        registry.switchDrivers(5, 6);
        assertSame(staged, registry.activeDriver("kvm"));
        assertEquals(Map.of(), registry.adoptAllNow("kvm"));
        for (String z : List.of("a", "b", "c")) {
            assertTrue(old.calls.contains("release " + z));
            assertSame(next, ScriptedDriver.HOLDER.get(registry.get(z).orElseThrow().id()));
            assertEquals("adopted by kvm-driver 1.0.1", registry.get(z).orElseThrow().reason());
        }
        assertTrue("the running driver stays bound through the switch",
                registry.drivers().stream().anyMatch(d -> d.version().equals("1.0.0")));

        // Back: the previous driver takes every zone again, each let go by the new one first.
        registry.switchDrivers(6, 5);
        assertSame(running, registry.activeDriver("kvm"));
        assertEquals(Map.of(), registry.adoptAllNow("kvm"));
        for (String z : List.of("a", "b", "c")) {
            assertTrue(next.calls.contains("release " + z));
            assertSame(old, ScriptedDriver.HOLDER.get(registry.get(z).orElseThrow().id()));
        }
    }
}

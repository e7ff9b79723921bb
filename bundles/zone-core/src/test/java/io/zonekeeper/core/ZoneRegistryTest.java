package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

public class ZoneRegistryTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path state;
    private Path declared;
    private ZoneRegistry registry;
    private long serviceIds = 1;

    @Before
    public void setUp() throws Exception {
        ScriptedDriver.HOST.clear();
        state = tmp.newFolder("state").toPath();
        declared = tmp.newFolder("zones").toPath();
        registry = open();
    }

    @After
    public void tearDown() {
        registry.close();
    }

    private ZoneRegistry open() throws Exception {
        ZoneRegistry r = new ZoneRegistry();
        r.open(state, declared, Duration.ofMillis(300), Duration.ofSeconds(1));
        return r;
    }

    private DriverBinding bind(ZoneRegistry r, ScriptedDriver d) {
        DriverBinding b = new DriverBinding(d, d.type + "-driver", "1.0." + serviceIds, serviceIds++);
        r.addDriver(b);
        return b;
    }

    @Test
    public void badSpecIsRefusedWithEveryFieldNamedAndNothingStored() throws Exception {
        try {
            registry.create(ZoneSpec.builder("Bad_Name").vcpus(0).build());
            fail("a bad spec was accepted");
        } catch (InvalidSpecException e) {
            assertEquals(List.of("name", "vcpus"), e.errors().stream().map(f -> f.field()).toList());
        }
        assertTrue(registry.list().isEmpty());
        try (var s = Files.list(state.resolve("zones"))) {
            assertEquals(0, s.count());
        }
    }

    @Test
    public void duplicateNameIsRefusedAndTheFirstZoneIsUntouched() throws Exception {
        ZoneInfo first = registry.create(ZoneSpec.builder("web").memoryMiB(256).build());
        try {
            registry.create(ZoneSpec.builder("web").build());
            fail("duplicate accepted");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("exists already"));
        }
        assertEquals(first.id(), registry.get("web").orElseThrow().id());
        assertEquals(256, registry.get("web").orElseThrow().spec().memoryMiB());
    }

    @Test
    public void startRunsTheZoneOnTheBoundDriverAndStopEndsIt() throws Exception {
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        bind(registry, kvm);
        registry.create(ZoneSpec.builder("a").build());
        ZoneInfo running = registry.start("a");
        assertEquals(ZoneState.RUNNING, running.state());
        assertEquals("kvm", running.driver());
        assertTrue(running.driverAttached());
        assertEquals(1, ScriptedDriver.running().size());
        assertEquals(ZoneState.STOPPED, registry.stop("a", Duration.ofSeconds(1)).state());
        assertTrue(ScriptedDriver.running().isEmpty());
    }

    @Test
    public void aCrashReasonQuotingTheGuestIsStoredEscapedAndCapped() throws Exception {
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        bind(registry, kvm);
        registry.create(ZoneSpec.builder("a").build());
        registry.start("a");
        String flood = "x".repeat(20_000);
        kvm.lastStarted.report(ZoneState.CRASHED, "last console lines: \u001b]0;pwned\u0007 \u001b[2J " + flood);
        String reason = registry.get("a").orElseThrow().reason();
        assertTrue(reason, reason.startsWith("last console lines: \\x1b]0;pwned\\x07 \\x1b[2J xxx"));
        assertTrue(reason.length() + " chars", reason.length() < Zone.REASON_LIMIT + 100);
        assertTrue(reason, reason.endsWith("more chars)"));
        assertFalse(reason.chars().anyMatch(c -> c < 0x20));
    }

    @Test
    public void aFailedStartLeavesTheZoneAsItWas() throws Exception {
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        kvm.failStartWith = "qemu: could not open kernel";
        bind(registry, kvm);
        registry.create(ZoneSpec.builder("a").build());
        try {
            registry.start("a");
            fail("start should fail");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("could not open kernel"));
        }
        ZoneInfo z = registry.get("a").orElseThrow();
        assertEquals(ZoneState.DEFINED, z.state());
        assertEquals(null, z.driver());
        assertFalse(Files.exists(state.resolve("zones/a/runtime.json")));
    }

    @Test
    public void tooMuchMemoryIsRefusedBeforeTheDriverIsCalled() throws Exception {
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        kvm.maxMemory = 512;
        bind(registry, kvm);
        registry.create(ZoneSpec.builder("big").memoryMiB(1024).build());
        try {
            registry.start("big");
            fail("start should fail");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("memoryMiB 1024 exceeds"));
        }
        assertTrue(kvm.calls.isEmpty());
    }

    @Test
    public void aDriverLeavingKeepsItsZoneRunningAndANewOneAdoptsIt() throws Exception {
        ScriptedDriver old = new ScriptedDriver("kvm");
        bind(registry, old);
        registry.create(ZoneSpec.builder("a").build());
        registry.start("a");
        registry.removeDriver(old);
        ZoneInfo detached = registry.get("a").orElseThrow();
        assertEquals(ZoneState.RUNNING, detached.state());
        assertFalse(detached.driverAttached());
        assertFalse(old.calls.contains("stop a"));

        ScriptedDriver upgraded = new ScriptedDriver("kvm");
        bind(registry, upgraded);
        waitFor(() -> registry.get("a").orElseThrow().driverAttached());
        assertEquals(List.of("adopt a"), upgraded.calls);
        assertEquals(ZoneState.RUNNING, registry.get("a").orElseThrow().state());
    }

    @Test
    public void aCommandOnADetachedZoneFailsClearlyWhenNoDriverComes() throws Exception {
        ScriptedDriver old = new ScriptedDriver("kvm");
        bind(registry, old);
        registry.create(ZoneSpec.builder("a").build());
        registry.start("a");
        registry.removeDriver(old);
        try {
            registry.stop("a", Duration.ofSeconds(1));
            fail("stop without a driver should fail");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no 'kvm' driver is bound"));
        }
        assertEquals(ZoneState.RUNNING, registry.get("a").orElseThrow().state());
        assertEquals(1, ScriptedDriver.running().size());
    }

    @Test
    public void aRestartedRegistryAdoptsRunningZonesAndMarksVanishedOnesCrashed() throws Exception {
        bind(registry, new ScriptedDriver("kvm"));
        registry.create(ZoneSpec.builder("alive").build());
        registry.create(ZoneSpec.builder("gone").build());
        registry.start("alive");
        ZoneInfo gone = registry.start("gone");
        registry.close();
        ScriptedDriver.HOST.remove(gone.id()); // its process died while the appliance was down

        registry = open();
        ScriptedDriver fresh = new ScriptedDriver("kvm");
        bind(registry, fresh);
        waitFor(() -> registry.get("gone").orElseThrow().state() == ZoneState.CRASHED
                && registry.get("alive").orElseThrow().driverAttached());
        assertEquals(ZoneState.RUNNING, registry.get("alive").orElseThrow().state());
        assertTrue(registry.get("gone").orElseThrow().reason().contains("is gone"));
        assertFalse(fresh.calls.stream().anyMatch(c -> c.startsWith("kill")));
    }

    @Test
    public void aCorruptZoneRecordIsQuarantinedAndReported() throws Exception {
        registry.create(ZoneSpec.builder("good").build());
        registry.create(ZoneSpec.builder("bad").build());
        registry.close();
        Files.writeString(state.resolve("zones/bad/zone.json"), "{\"id\": \"not json");
        registry = open();
        assertEquals(List.of("good"), registry.list().stream().map(ZoneInfo::name).toList());
        assertEquals(1, registry.quarantined().size());
        assertEquals("bad", registry.quarantined().get(0).name());
        assertTrue(Files.exists(registry.quarantined().get(0).movedTo().resolve("zone.json")));
    }

    @Test
    public void declaredZonesAreCreatedAndStartedWhenTheirDriverArrives() throws Exception {
        registry.close();
        Files.writeString(declared.resolve("default.json"), "{\"name\":\"default\",\"memoryMiB\":128}");
        Files.writeString(declared.resolve("broken.json"), "{\"name\":\"x\",\"memroy\":1}");
        registry = open();
        assertEquals(List.of("default"), registry.list().stream().map(ZoneInfo::name).toList());
        bind(registry, new ScriptedDriver("kvm"));
        registry.await("default", Set.of(ZoneState.RUNNING), Duration.ofSeconds(5));
    }

    @Test
    public void aDriverThatCannotDoChannelsIsNotChosenForAZoneWithChannels() throws Exception {
        ScriptedDriver plain = new ScriptedDriver("plain");
        plain.features = java.util.EnumSet.of(io.zonekeeper.spi.Feature.ADOPTION);
        bind(registry, plain);
        registry.create(ZoneSpec.builder("c").channel(ChannelSpec.toHost("data")).build());
        try {
            registry.start("c");
            fail("a driver without channels was chosen");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("plain: it does not support channels"));
        }
        assertTrue(plain.calls.isEmpty());
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        bind(registry, kvm);
        assertEquals("kvm", registry.start("c").driver());
    }

    @Test
    public void destroyEndsTheGuestAndRemovesTheFolder() throws Exception {
        ScriptedDriver kvm = new ScriptedDriver("kvm");
        bind(registry, kvm);
        registry.create(ZoneSpec.builder("a").build());
        registry.start("a");
        registry.destroy("a");
        assertTrue(ScriptedDriver.running().isEmpty());
        assertFalse(Files.exists(state.resolve("zones/a")));
        assertTrue(registry.get("a").isEmpty());
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("condition not met within 5 s");
            }
            Thread.sleep(20);
        }
    }
}

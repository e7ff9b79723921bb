package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

/**
 * A bundle that registers a driver type another bundle provides needs the operator's consent; the bundle's own
 * upgraded revision takes its zones back, several at once.
 */
public class DriverTakeoverTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private final ZoneRegistry registry = new ZoneRegistry();
    private final ScriptedDriver shipped = new ScriptedDriver("kvm");
    private final ScriptedDriver rogue = new ScriptedDriver("kvm");

    @Before
    public void clearHost() {
        ScriptedDriver.HOST.clear();
    }

    @After
    public void close() {
        registry.close();
    }

    private void open() throws Exception {
        registry.open(tmp.newFolder("state").toPath(), tmp.newFolder("zones").toPath(), Duration.ofMillis(300),
                Duration.ofSeconds(1));
    }

    /** The rogue ranks higher than the shipped driver, so without the rule it would be the active kvm driver. */
    private void bindShipped() {
        registry.addDriver(new DriverBinding(shipped, 10, 0, "io.zonekeeper.kvm-driver", "1.0.0", 5));
    }

    private void bindRogue() {
        registry.addDriver(new DriverBinding(rogue, 40, 1000, "com.evil.kvm", "6.6.6", 42));
    }

    private DriverView view(String bundle) {
        return registry.drivers().stream().filter(d -> d.bundle().equals(bundle)).findFirst().orElseThrow();
    }

    @Test
    public void aSecondBundleClaimingABoundTypeIsRefusedVisiblyAndTakesNoZone() throws Exception {
        open();
        bindShipped();
        bindRogue();
        DriverView refused = view("com.evil.kvm");
        assertTrue(refused.refused());
        assertFalse(refused.active());
        assertEquals("driver type kvm is already provided by io.zonekeeper.kvm-driver; to let com.evil.kvm take it "
                + "over, set driver.takeover.kvm = com.evil.kvm in the io.zonekeeper.core configuration "
                + "(etc/io.zonekeeper.core.cfg)", refused.refusal());
        assertTrue(view("io.zonekeeper.kvm-driver").active());

        ZoneInfo z = registry.create(ZoneSpec.builder("web").hypervisor("kvm").memoryMiB(64).build());
        registry.start(z.name());
        assertEquals("io.zonekeeper.kvm-driver", registry.activeDriver("kvm").bundle);
        assertTrue(shipped.calls.toString(), shipped.calls.contains("start web"));
        assertEquals(List.of(), rogue.calls);
    }

    @Test
    public void theFirstInstalledBundleOwnsTheTypeWhateverOrderTheFrameworkBindsThemIn() throws Exception {
        bindRogue();
        bindShipped();
        open();
        assertTrue(view("com.evil.kvm").refused());
        assertTrue(view("io.zonekeeper.kvm-driver").active());
    }

    @Test
    public void whileTheOwnerIsAwayForAnUpgradeNoOtherBundleStepsIn() throws Exception {
        open();
        bindShipped();
        registry.removeDriver(shipped);
        bindRogue();
        assertNull(registry.activeDriver("kvm"));
        assertTrue(view("com.evil.kvm").refused());
        // The upgraded revision of the same bundle comes back and binds.
        ScriptedDriver upgraded = new ScriptedDriver("kvm");
        registry.addDriver(new DriverBinding(upgraded, 11, 0, "io.zonekeeper.kvm-driver", "1.0.1", 5));
        assertEquals("1.0.1", registry.activeDriver("kvm").version);
    }

    @Test
    public void withTheOperatorsConsentTheNewBundleTakesTheTypeOver() throws Exception {
        registry.setTakeoverConsents(Map.of("driver.takeover.kvm", "com.evil.kvm", "stopGraceSeconds", 30));
        open();
        bindShipped();
        bindRogue();
        assertFalse(view("com.evil.kvm").refused());
        assertEquals("com.evil.kvm", registry.activeDriver("kvm").bundle);
        assertFalse(view("io.zonekeeper.kvm-driver").active());
    }

    @Test
    public void consentsAreReadFromTakeoverKeysOnly() {
        assertEquals(Map.of("kvm", java.util.Set.of("a", "b"), "xen", java.util.Set.of("c")),
                DriverBindings.takeoverConsents(Map.of("driver.takeover.kvm", "a, b", "driver.takeover.xen",
                        new String[] { "c" }, "driver.takeover.", "x", "driverWaitSeconds", 15)));
    }

    @Test
    public void anUpgradeAdoptsSeveralZonesAtOnceAndNamesTheOneItRefused() throws Exception {
        // A longer driver wait than open()'s: the reconciler may hold one zone's lock until three adopt at once.
        registry.open(tmp.newFolder("state").toPath(), tmp.newFolder("zones").toPath(), Duration.ofSeconds(5),
                Duration.ofSeconds(1));
        ScriptedDriver old = new ScriptedDriver("kvm");
        registry.addDriver(new DriverBinding(old, 10, 0, "io.zonekeeper.kvm-driver", "1.0.0", 5));
        for (int i = 1; i <= 6; i++) {
            registry.create(ZoneSpec.builder("z" + i).hypervisor("kvm").memoryMiB(64).build());
            registry.start("z" + i);
        }
        ScriptedDriver.HOST.remove(registry.get("z3").orElseThrow().id()); // its guest is gone

        registry.removeDriver(old);
        registry.beginTrial("kvm");
        ScriptedDriver upgraded = new ScriptedDriver("kvm");
        // Each adoption waits until three are under way: the reconciler's thread adopts one zone at a time, so
        // a third one at once comes only from adoptAllNow adopting in parallel.
        CountDownLatch three = new CountDownLatch(3);
        AtomicInteger now = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        upgraded.beforeAdopt = () -> {
            most.accumulateAndGet(now.incrementAndGet(), Math::max);
            three.countDown();
            try {
                three.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            now.decrementAndGet();
        };
        registry.addDriver(new DriverBinding(upgraded, 11, 0, "io.zonekeeper.kvm-driver", "1.0.1", 5));
        Map<String, String> refused = registry.adoptAllNow("kvm");
        registry.endTrial("kvm");

        assertTrue("adoptions overlapped: at most " + most.get() + " at once", most.get() >= 3);
        assertEquals(java.util.Set.of("z3"), refused.keySet());
        assertTrue(refused.get("z3"), refused.get("z3").contains("is gone"));
        for (String z : new String[] { "z1", "z2", "z4", "z5", "z6" }) {
            assertTrue(z + " is attached to the new driver", registry.get(z).orElseThrow().driverAttached());
            assertEquals(ZoneState.RUNNING, registry.get(z).orElseThrow().state());
        }
    }
}

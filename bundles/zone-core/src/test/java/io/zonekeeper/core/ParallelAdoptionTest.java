package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

/** The adoptions of a driver upgrade overlap, and each zone's refusal is still told apart. */
public class ParallelAdoptionTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private final ZoneRegistry registry = new ZoneRegistry();

    @Before
    public void clearHost() {
        ScriptedDriver.HOST.clear();
    }

    @After
    public void close() {
        registry.close();
    }

    @Test
    public void anUpgradeAdoptsSeveralZonesAtOnceAndNamesTheOneItRefused() throws Exception {
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

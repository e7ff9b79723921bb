package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.StateLocation;
import io.zonekeeper.spi.ZoneContext;

/**
 * The core in a real Felix with SCR and Gogo: it binds a driver that another bundle (here the test probe)
 * registers, runs commands through the real CommandProcessor, refuses bad specs, and keeps a zone when its
 * driver leaves.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class CoreIT {
    private static final Path STATE = Containers.newStateDir("core");

    @Inject
    BundleContext context;
    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE) };
    }

    /** A driver whose "guests" are entries in a map: enough to test the core's OSGi wiring, nothing more. */
    static final class ProbeDriver implements HypervisorDriver {
        static final Map<UUID, Boolean> GUESTS = new ConcurrentHashMap<>();
        final List<String> calls = Collections.synchronizedList(new ArrayList<>());

        @Override
        public String type() {
            return "probe";
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(EnumSet.of(Feature.ADOPTION), 2, 1024, Map.of("note", "test probe driver"));
        }

        @Override
        public RuntimeRecord start(ZoneContext zone) {
            calls.add("start " + zone.name());
            GUESTS.put(zone.id(), true);
            RuntimeRecord r = new RuntimeRecord("probe", Map.of("uuid", zone.id().toString()));
            zone.saveRuntime(r);
            return r;
        }

        @Override
        public Adoption adopt(ZoneContext zone) {
            calls.add("adopt " + zone.name());
            boolean proof = zone.runtime().flatMap(r -> r.get("uuid")).map(u -> u.equals(zone.id().toString()))
                    .orElse(false);
            return proof && GUESTS.containsKey(zone.id()) ? Adoption.adopted(ZoneState.RUNNING)
                    : Adoption.refused("no such guest");
        }

        @Override
        public void stop(ZoneContext zone, Duration grace) {
            calls.add("stop " + zone.name());
            GUESTS.remove(zone.id());
        }

        @Override
        public void kill(ZoneContext zone) {
            calls.add("kill " + zone.name());
            GUESTS.remove(zone.id());
        }

        @Override
        public ZoneState observe(ZoneContext zone) {
            return GUESTS.containsKey(zone.id()) ? ZoneState.RUNNING : ZoneState.STOPPED;
        }
    }

    private ServiceRegistration<HypervisorDriver> register(ProbeDriver d) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(HypervisorDriver.TYPE_PROPERTY, d.type());
        return context.registerService(HypervisorDriver.class, d, props);
    }

    @Test
    public void anotherBundleGetsTheStateDirectoryFromZoneCoresService() {
        // The test probe is a bundle like a vendor's: it asks the SPI, not the framework property.
        ServiceReference<StateLocation> ref = context.getServiceReference(StateLocation.class);
        assertNotNull("zone-core registers a StateLocation", ref);
        try {
            assertEquals(STATE.toAbsolutePath().normalize(), context.getService(ref).directory());
        } finally {
            context.ungetService(ref);
        }
    }

    @Test
    public void coreBindsADriverThatAnotherBundleRegisters() throws Exception {
        ServiceRegistration<HypervisorDriver> reg = register(new ProbeDriver());
        try {
            String json = Containers.run(shell, "driver:list --json").ok();
            assertTrue(json, json.contains("\"type\":\"probe\""));
            String info = Containers.run(shell, "driver:info probe").ok();
            assertTrue(info, info.contains("test probe driver"));
        } finally {
            reg.unregister();
        }
        assertFalse(Containers.run(shell, "driver:list --json").ok().contains("probe"));
    }

    @Test
    public void badSpecIsRefusedThroughTheShellWithEveryFieldNamedAndNothingStored() throws Exception {
        String error = Containers.run(shell, "zone:create --vcpus 0 --memory 8 Bad_Name").error();
        assertTrue(error, error.contains("name:") && error.contains("vcpus:") && error.contains("memoryMiB:"));
        assertFalse(Containers.run(shell, "zone:list").ok().contains("Bad_Name"));
        try (var s = Files.list(STATE.resolve("zones"))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("Bad")));
        }
        String unknown = Containers.run(shell, "zone:start no-such-zone").error();
        assertTrue(unknown, unknown.contains("no zone named 'no-such-zone'"));
    }

    @Test
    public void aBundleThatCannotResolveIsReportedWithItsMissingRequirement() throws Exception {
        Path jar = STATE.resolve("vendor-broken.jar");
        java.util.jar.Manifest mf = new java.util.jar.Manifest();
        mf.getMainAttributes().putValue("Manifest-Version", "1.0");
        mf.getMainAttributes().putValue("Bundle-ManifestVersion", "2");
        mf.getMainAttributes().putValue("Bundle-SymbolicName", "com.vendor.broken-driver");
        mf.getMainAttributes().putValue("Bundle-Version", "0.9.0");
        mf.getMainAttributes().putValue("Import-Package", "io.zonekeeper.spi;version=\"[1.0,2)\",com.vendor.hw.sdk");
        try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar), mf)) {
            // A manifest is all a bundle needs to be installed.
        }
        org.osgi.framework.Bundle b = context.installBundle(jar.toUri().toString());
        try {
            try {
                b.start();
            } catch (org.osgi.framework.BundleException expected) {
                // It cannot resolve; that is the point.
            }
            String listed = Containers.run(shell, "driver:list").ok();
            assertTrue(listed, listed.contains("com.vendor.broken-driver 0.9.0"));
            assertTrue(listed, listed.contains("missing package (osgi.wiring.package=com.vendor.hw.sdk)"));
            assertFalse(listed, listed.contains("io.zonekeeper.spi)"));
        } finally {
            b.uninstall();
        }
    }

    @Test
    public void zoneStaysRunningWhenItsDriverLeavesAndIsAdoptedWhenItReturns() throws Exception {
        ProbeDriver first = new ProbeDriver();
        ServiceRegistration<HypervisorDriver> reg = register(first);
        Containers.run(shell, "zone:create --hypervisor probe --start survivor").ok();
        assertEquals(ZoneState.RUNNING, zones.get("survivor").orElseThrow().state());

        reg.unregister();
        String listed = Containers.run(shell, "zone:list").ok();
        assertTrue(listed, listed.contains("RUNNING") && listed.contains("probe (detached)"));
        assertFalse(first.calls.contains("stop survivor"));

        ProbeDriver second = new ProbeDriver();
        reg = register(second);
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!zones.get("survivor").orElseThrow().driverAttached() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(zones.get("survivor").orElseThrow().driverAttached());
            assertEquals(List.of("adopt survivor"), second.calls);
            Containers.run(shell, "zone:stop survivor").ok();
            assertEquals(ZoneState.STOPPED, zones.get("survivor").orElseThrow().state());
            Containers.run(shell, "zone:destroy survivor").ok();
            assertTrue(zones.get("survivor").isEmpty());
            assertEquals(Set.of(), ProbeDriver.GUESTS.keySet());
        } finally {
            reg.unregister();
        }
    }
}

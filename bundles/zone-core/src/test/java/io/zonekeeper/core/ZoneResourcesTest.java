package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.ChosenDriver;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.ZoneResourceProvider;

/** The registry prepares host resources before a start and gives them back whenever a guest ends. */
public class ZoneResourcesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private ZoneRegistry registry;
    private ScriptedDriver kvm;
    private final List<String> log = Collections.synchronizedList(new ArrayList<>());

    /** Records prepare and release; fails prepare when told to. */
    private final class Provider implements ZoneResourceProvider {
        final ResourceKind kind;
        volatile String failWith;
        volatile ChosenDriver lastDriver;

        Provider(ResourceKind kind) {
            this.kind = kind;
        }

        @Override
        public ResourceKind kind() {
            return kind;
        }

        @Override
        public PreparedResources prepare(UUID id, ZoneSpec spec, ChosenDriver driver) throws ZoneException {
            lastDriver = driver;
            return prepare(id, spec);
        }

        @Override
        public PreparedResources prepare(UUID id, ZoneSpec spec) throws ZoneException {
            if (failWith != null) {
                throw new ZoneException(failWith);
            }
            log.add("prepare " + kind + " " + spec.name());
            return kind == ResourceKind.NETWORK
                    ? new PreparedResources(List.of(new PreparedNic("a", "zktap0", "zkb-a", "0a:00:00:00:00:01",
                            "10.99.0.2/24", "10.99.0.1")), List.of())
                    : new PreparedResources(List.of(), List.of(new PreparedDisk("d", "/x/d.img", "raw", false)));
        }

        @Override
        public void release(UUID id, String zoneName) {
            log.add("release " + kind + " " + zoneName);
        }

        @Override
        public List<String> orphans(Set<UUID> activeZones) {
            return List.of();
        }
    }

    private Provider net;
    private Provider disk;

    @Before
    public void setUp() throws Exception {
        ScriptedDriver.HOST.clear();
        Path state = tmp.newFolder("state").toPath();
        registry = new ZoneRegistry();
        registry.open(state, tmp.newFolder("zones").toPath(), Duration.ofMillis(300), Duration.ofSeconds(1));
        kvm = new ScriptedDriver("kvm");
        kvm.features = EnumSet.of(Feature.ADOPTION, Feature.NETWORK, Feature.DISK);
        registry.addDriver(new DriverBinding(kvm, "kvm-driver", "1.0.0", 1));
        net = new Provider(ResourceKind.NETWORK);
        disk = new Provider(ResourceKind.DISK);
        registry.addResourceProvider(net);
        registry.addResourceProvider(disk);
    }

    @After
    public void tearDown() {
        registry.close();
    }

    private static ZoneSpec spec(String name) {
        return ZoneSpec.builder(name).network(new NetworkAttachment("a", null))
                .disk(new DiskSpec("/x/d.img", "raw", false)).build();
    }

    @Test
    public void driverSeesWhatProvidersPreparedAndStopReleasesIt() throws Exception {
        registry.create(spec("z1"));
        registry.start("z1");
        assertEquals(List.of("prepare NETWORK z1", "prepare DISK z1"), log);
        assertEquals("zktap0", kvm.lastResources.nics().get(0).tapDevice());
        assertEquals("/x/d.img", kvm.lastResources.disks().get(0).path());

        registry.stop("z1", Duration.ofSeconds(1));
        assertTrue(log.toString(), log.containsAll(List.of("release NETWORK z1", "release DISK z1")));
        assertEquals(PreparedResources.NONE, kvm.lastStarted.resources());
    }

    @Test
    public void providersLearnTheDriverChosenForTheStartAndWhatItCanDo() throws Exception {
        ScriptedDriver xenLike = new ScriptedDriver("hyp");
        xenLike.features = EnumSet.of(Feature.NETWORK, Feature.DISK, Feature.OWN_HOST_INTERFACE);
        registry.addDriver(new DriverBinding(xenLike, "hyp-driver", "1.0.0", 2));
        registry.create(ZoneSpec.builder("z8").hypervisor("hyp").network(new NetworkAttachment("a", null)).build());
        registry.start("z8");
        assertEquals("hyp", net.lastDriver.type());
        assertTrue(net.lastDriver.supports(Feature.OWN_HOST_INTERFACE));

        registry.create(ZoneSpec.builder("z9").hypervisor("kvm").disk(new DiskSpec("/x/d.img", "raw", false)).build());
        registry.start("z9");
        assertEquals("kvm", disk.lastDriver.type());
        assertTrue(!disk.lastDriver.supports(Feature.OWN_HOST_INTERFACE));
    }

    @Test
    public void aFailingProviderUndoesTheOnesBeforeItAndTheDriverIsNotCalled() throws Exception {
        registry.create(spec("z2"));
        disk.failWith = "disk /x/d.img is attached read-write to zone other";
        try {
            registry.start("z2");
            fail("the disk provider refused");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("zone other"));
        }
        assertEquals(List.of("prepare NETWORK z2", "release NETWORK z2"), log);
        assertTrue(kvm.calls.isEmpty());
        assertEquals(ZoneState.DEFINED, registry.get("z2").orElseThrow().state());
    }

    @Test
    public void aDriverThatFailsToStartLeavesNoResourcesHeld() throws Exception {
        registry.create(spec("z3"));
        kvm.failStartWith = "qemu: no";
        try {
            registry.start("z3");
            fail("the driver failed");
        } catch (ZoneException expected) {
        }
        assertTrue(log.toString(), log.containsAll(List.of("release NETWORK z3", "release DISK z3")));
        assertEquals(ZoneState.DEFINED, registry.get("z3").orElseThrow().state());
    }

    @Test
    public void aCrashReportedByTheDriverAndADestroyReleaseResources() throws Exception {
        registry.create(spec("z4"));
        registry.start("z4");
        kvm.lastStarted.report(ZoneState.CRASHED, "QEMU died");
        assertTrue(log.toString(), log.contains("release NETWORK z4"));
        log.clear();
        registry.destroy("z4");
        assertTrue(log.toString(), log.contains("release DISK z4"));
    }

    @Test
    public void aZoneWithNetworksButNoProviderIsRefusedClearly() throws Exception {
        registry.removeResourceProvider(net);
        registry.create(spec("z5"));
        try {
            registry.start("z5");
            fail("no network provider");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no networks provider is installed"));
        }
        assertTrue(kvm.calls.isEmpty());
    }

    /** Holds leases by zone id like the network provider does, durable across its instances (the held map). */
    private static final class Holding implements ZoneResourceProvider {
        final java.util.Map<UUID, String> held;

        Holding(java.util.Map<UUID, String> held) {
            this.held = held;
        }

        @Override
        public ResourceKind kind() {
            return ResourceKind.NETWORK;
        }

        @Override
        public PreparedResources prepare(UUID id, ZoneSpec spec) {
            held.put(id, spec.name());
            return new PreparedResources(List.of(new PreparedNic("a", "zktap0", "zkb-a", "0a:00:00:00:00:01",
                    "10.99.0.2/24", "10.99.0.1")), List.of());
        }

        @Override
        public void release(UUID id, String zoneName) {
            held.remove(id);
        }

        @Override
        public List<String> orphans(Set<UUID> activeZones) {
            return held.entrySet().stream().filter(e -> !activeZones.contains(e.getKey()))
                    .map(e -> "lease of zone " + e.getValue()).sorted().toList();
        }
    }

    @Test
    public void aProviderThatComesAfterAZoneEndedGetsItsResourcesBackButKeepsThoseOfUnknownZones() throws Exception {
        registry.removeResourceProvider(net);
        java.util.Map<UUID, String> held = new java.util.concurrent.ConcurrentHashMap<>();
        Holding first = new Holding(held);
        registry.addResourceProvider(first);
        registry.create(spec("z6"));
        registry.start("z6");
        io.zonekeeper.spi.ZoneContext z6Guest = kvm.lastStarted;
        registry.create(spec("z7"));
        registry.start("z7");
        UUID z6 = registry.get("z6").orElseThrow().id();
        // The provider goes away (an appliance restart in which it registers late), then z6's guest dies: the end
        // of z6 can give nothing back to a provider that is not there.
        registry.removeResourceProvider(first);
        z6Guest.report(ZoneState.CRASHED, "QEMU died");
        assertEquals(ZoneState.CRASHED, registry.get("z6").orElseThrow().state());
        assertTrue(held.containsKey(z6));
        UUID stranger = UUID.randomUUID();
        held.put(stranger, "quarantined");

        registry.addResourceProvider(new Holding(held));
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (held.containsKey(z6) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue("the crashed zone's lease went back: " + held, !held.containsKey(z6));
        assertTrue("the running zone keeps its lease", held.containsValue("z7"));
        assertTrue("a zone the registry does not know is only reported", held.containsKey(stranger));
    }
}

package io.zonekeeper.xen;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;
import io.zonekeeper.xen.xl.DomainConfig;

/** The driver's logic against a pretend xl (FakeXl); the Xen lab (scripts/xen-lab) runs the real thing. */
public class XenDriverTest {
    private Path dir;
    private FakeXl xl;
    private XenDriver driver;
    private Path kernel;
    private Path ramdisk;

    @Before
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("xen-driver-test");
        kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        ramdisk = Files.writeString(dir.resolve("initrd"), "ramdisk");
        xl = new FakeXl();
        driver = new XenDriver(settings(), xl);
    }

    private XenDriver.Settings settings() {
        // No xenstored here: the socket path does not exist, so the driver works from xl alone.
        return new XenDriver.Settings(dir.resolve("state"), "xl", DomainConfig.PV, kernel.toString(),
                dir.resolve("no-xenstored"), dir.resolve("console"), Path.of("/bin/busybox"));
    }

    @After
    public void tearDown() throws IOException {
        driver.deactivate();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A zone of the shared hello spec, booting the test's kernel and ramdisk files. */
    private TestZone hello() throws IOException {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().initramfs(ramdisk.toString()).build();
        return new TestZone(spec, dir.resolve("state/zones/hello"));
    }

    @Test
    public void aBadSpecIsRefusedBeforeXlIsCalledWithTheFieldNamed() throws IOException {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().label(DomainConfig.TYPE_LABEL, "hvm")
                .channel(ChannelSpec.toHost("data")).build();
        TestZone zone = new TestZone(spec, dir.resolve("state/zones/hello"));
        DriverException e = assertThrows(DriverException.class, () -> driver.start(zone));
        assertTrue(e.getMessage(), e.getMessage().contains("labels.xen.type"));
        assertTrue(e.getMessage(), e.getMessage().contains("channels"));
        assertEquals("xl must not have been run", List.of(), xl.calls);
        assertTrue(zone.saved.isEmpty());
    }

    @Test
    public void startCreatesTheDomainWithTheZonesUuidAndRecordsItsDomid() throws Exception {
        TestZone zone = hello();
        RuntimeRecord r = driver.start(zone);
        assertEquals("xen", r.driver());
        assertEquals(Optional.of("1"), r.get(XenDriver.R_DOMID));
        assertEquals(Optional.of(zone.id().toString()), r.get(XenDriver.R_UUID));
        assertEquals(Optional.of("pv"), r.get(XenDriver.R_TYPE));
        assertEquals(List.of(r), zone.saved);
        String cfg = Files.readString(XenDriver.configFile(zone));
        assertTrue(cfg, cfg.contains("uuid = \"" + zone.id() + "\""));
        assertTrue(cfg, cfg.contains("ramdisk = \"" + ramdisk + "\""));
        assertEquals(ZoneState.RUNNING, driver.observe(zone));
        assertEquals(Optional.of(1), driver.watchedDomid(zone.id()));
        assertEquals(dir.resolve("console/guest-hello.log"), driver.consoleLog(zone));
    }

    @Test
    public void aSecondStartOfARunningZoneIsRefused() throws Exception {
        TestZone zone = hello();
        driver.start(zone);
        DriverException e = assertThrows(DriverException.class, () -> driver.start(zone));
        assertTrue(e.getMessage(), e.getMessage().contains("already runs as Xen domain 1"));
        assertEquals(1, xl.count("create"));
    }

    @Test
    public void aFailedCreateLeavesNoConfigBehind() throws Exception {
        xl.domains.put(7, new FakeXl.Dom(7, "hello", UUID.randomUUID().toString()));
        TestZone zone = hello();
        DriverException e = assertThrows(DriverException.class, () -> driver.start(zone));
        assertTrue(e.getMessage(), e.getMessage().contains("already exists"));
        assertFalse(Files.exists(XenDriver.configFile(zone)));
        assertTrue(xl.domains.containsKey(7));
    }

    @Test
    public void stopAsksTheGuestAndReportsNothingItselfDid() throws Exception {
        TestZone zone = hello();
        driver.start(zone);
        driver.stop(zone, Duration.ofSeconds(5));
        assertEquals(1, xl.count("shutdown 1"));
        assertEquals(0, xl.count("destroy"));
        assertTrue(xl.domains.isEmpty());
        assertEquals(ZoneState.STOPPED, driver.observe(zone));
        assertEquals(List.of(), zone.reports);
    }

    @Test
    public void aGuestThatIgnoresShutdownIsDestroyedAfterTheGrace() throws Exception {
        xl.ignoreShutdown = true;
        TestZone zone = hello();
        driver.start(zone);
        long t0 = System.nanoTime();
        driver.stop(zone, Duration.ofMillis(600));
        assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(600).toNanos());
        assertEquals(1, xl.count("destroy 1"));
        assertTrue(xl.domains.isEmpty());
        assertEquals(ZoneState.STOPPED, driver.observe(zone));
    }

    @Test
    public void aNewDriverInstanceAdoptsTheSameDomainByItsUuid() throws Exception {
        TestZone zone = hello();
        driver.start(zone);
        driver.deactivate(); // an upgrade: the old instance goes, the domain stays
        assertEquals(1, xl.domains.size());
        XenDriver next = new XenDriver(settings(), xl);
        try {
            Adoption a = next.adopt(zone);
            assertTrue(a.reason(), a.adopted());
            assertEquals(ZoneState.RUNNING, a.state());
            assertEquals(Optional.of(1), next.watchedDomid(zone.id()));
            next.pause(zone);
            assertEquals(ZoneState.PAUSED, next.observe(zone));
            next.resume(zone);
            next.kill(zone);
            assertTrue(xl.domains.isEmpty());
            assertEquals(0, xl.count("create") - 1);
        } finally {
            next.deactivate();
        }
    }

    @Test
    public void adoptionRefusesADomainWhoseUuidIsNotTheZones() throws Exception {
        TestZone zone = hello();
        driver.start(zone);
        driver.deactivate();
        // Someone destroyed it and made another domain of the same name.
        xl.domains.clear();
        xl.domains.put(9, new FakeXl.Dom(9, "hello", UUID.randomUUID().toString()));
        XenDriver next = new XenDriver(settings(), xl);
        try {
            Adoption a = next.adopt(zone);
            assertFalse(a.adopted());
            assertTrue(a.reason(), a.reason().contains("no Xen domain has zone hello's uuid"));
            next.kill(zone);
            assertTrue("a domain that is not provably the zone's is never destroyed", xl.domains.containsKey(9));
        } finally {
            next.deactivate();
        }
    }

    @Test
    public void theWatcherReportsAGuestThatPoweredItselfOff() throws Exception {
        TestZone zone = hello();
        driver.start(zone);
        xl.powerOff(1);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (zone.reports.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(1, zone.reports.size());
        assertTrue(zone.reports.get(0), zone.reports.get(0).startsWith("STOPPED"));
        assertEquals(ZoneState.STOPPED, driver.observe(zone));
    }

    @Test
    public void capabilitiesSayWhatDiffersFromKvm() {
        var c = driver.capabilities();
        assertTrue(c.supports(Feature.ADOPTION));
        assertTrue(c.supports(Feature.PAUSE));
        assertFalse(c.supports(Feature.CHANNELS));
        assertEquals(2, c.maxVcpus());
        assertEquals(1400, c.maxMemoryMiB());
        assertEquals("4.17.5", c.details().get("xen"));
        assertTrue(c.details().get("differsFromKvm").contains("no pid"));
    }

    @Test
    public void withoutXenTheDriverOffersRoomForNothing() {
        XenDriver noXen = new XenDriver(settings(), (argv, timeout) -> {
            throw new java.io.IOException("Cannot run program \"xl\": error=2, No such file or directory");
        });
        try {
            var c = noXen.capabilities();
            assertEquals(0, c.maxVcpus());
            assertEquals(0, c.maxMemoryMiB());
            assertTrue(c.details().get("xen"), c.details().get("xen").startsWith("not usable here: Cannot run"));
        } finally {
            noXen.deactivate();
        }
    }

    /** zone-core's side of one zone, as far as a driver sees it. */
    static final class TestZone implements ZoneContext {
        private final UUID id = UUID.randomUUID();
        private final ZoneSpec spec;
        private final Path directory;
        final List<RuntimeRecord> saved = new CopyOnWriteArrayList<>();
        final List<String> reports = new CopyOnWriteArrayList<>();

        TestZone(ZoneSpec spec, Path directory) throws IOException {
            this.spec = spec;
            this.directory = Files.createDirectories(directory);
        }

        @Override
        public UUID id() {
            return id;
        }

        @Override
        public String name() {
            return spec.name();
        }

        @Override
        public ZoneSpec spec() {
            return spec;
        }

        @Override
        public Path directory() {
            return directory;
        }

        @Override
        public Optional<RuntimeRecord> runtime() {
            return saved.isEmpty() ? Optional.empty() : Optional.of(saved.get(saved.size() - 1));
        }

        @Override
        public void saveRuntime(RuntimeRecord record) {
            saved.add(record);
        }

        @Override
        public void report(ZoneState state, String reason) {
            reports.add(state + " " + reason);
        }

        @Override
        public PreparedResources resources() {
            return PreparedResources.NONE;
        }
    }
}

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
        Path kernels = Files.createDirectories(dir.resolve("kernels")); // a configured boot folder
        kernel = Files.writeString(kernels.resolve("vmlinuz"), "kernel");
        ramdisk = Files.writeString(kernels.resolve("initrd"), "ramdisk");
        xl = new FakeXl();
        driver = new XenDriver(settings(), xl);
    }

    private XenDriverSettings settings() {
        // No xenstored here: the socket path does not exist, so the driver works from xl alone.
        return settings(dir.resolve("no-xenstored"));
    }

    private XenDriverSettings settings(Path xenstoreSocket) {
        return new XenDriverSettings(dir.resolve("state"), "xl", DomainConfig.PV, kernel.toString(), xenstoreSocket,
                dir.resolve("console"), Path.of("/bin/busybox"), dir.resolve("modules"), dir.resolve("no-vchan-proxy"),
                List.of(dir.resolve("kernels")), LOG_CAP);
    }

    /** The console log cap of the test's driver: small, so that a test fills it with a few writes. */
    private static final long LOG_CAP = 4096;

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
                .disk(new io.zonekeeper.api.DiskSpec("/d/x.qcow2", "qcow2", false)).build();
        TestZone zone = new TestZone(spec, dir.resolve("state/zones/hello"));
        DriverException e = assertThrows(DriverException.class, () -> driver.start(zone));
        assertTrue(e.getMessage(), e.getMessage().contains("labels.xen.type"));
        assertTrue(e.getMessage(), e.getMessage().contains("disks[0].format"));
        assertEquals("xl must not have been run", List.of(), xl.calls);
        assertTrue(zone.saved.isEmpty());
    }

    @Test
    public void anImageZoneWithoutAnImageStoreIsRefusedBeforeXlRunsNamingTheBundleThatProvidesIt() throws IOException {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().image("lab/busybox:1").build();
        TestZone zone = new TestZone(spec, dir.resolve("state/zones/hello"));
        DriverException e = assertThrows(DriverException.class, () -> driver.start(zone));
        assertTrue(e.getMessage(), e.getMessage().contains("runs image lab/busybox:1, but no image store is running:"
                + " the zone-images bundle provides it"));
        assertEquals("xl must not have been run", List.of(), xl.calls);
        assertTrue(zone.saved.isEmpty());
        assertTrue("no workload file", Files.notExists(dir.resolve("state/zones/hello/workload.zk")));
    }

    @Test
    public void aSpecsKernelOrInitramfsOutsideTheBootFoldersIsRefusedBeforeXlRunsEvenThroughASymlink()
            throws Exception {
        Path secret = Files.writeString(Files.createDirectories(dir.resolve("etc")).resolve("shadow"), "root:x");
        Path link = Files.createSymbolicLink(dir.resolve("kernels/vmlinuz-evil"), secret);
        ZoneSpec base = SpecFiles.read(SpecFiles.HELLO);
        for (ZoneSpec spec : List.of(base.toBuilder().kernel(secret.toString()).build(),
                base.toBuilder().kernel(kernel.toString()).initramfs(link.toString()).build(),
                base.toBuilder().initramfs(dir + "/kernels/../etc/shadow").build())) {
            TestZone zone = new TestZone(spec, dir.resolve("state/zones/hello"));
            DriverException e = assertThrows(DriverException.class, () -> driver.start(zone));
            assertTrue(e.getMessage(), e.getMessage().contains("is outside the folders a zone's kernel and"
                    + " initramfs may come from"));
            assertTrue(e.getMessage(), e.getMessage().contains("io.zonekeeper.xen, bootFolders"));
            assertTrue(zone.saved.isEmpty());
        }
        assertEquals("xl must not have been run", List.of(), xl.calls);
        driver.start(new TestZone(base.toBuilder().kernel(kernel.toString()).initramfs(ramdisk.toString()).build(),
                dir.resolve("state/zones/hello")));
        assertEquals("a kernel in a boot folder starts", 1, xl.count("create"));
    }

    @Test
    public void aConsoleLogOverItsCapIsRotatedBeforeTheStartAndWhileTheDriverWatchesTheZone() throws Exception {
        TestZone zone = hello();
        Path log = driver.consoleLog(zone);
        Path older = log.resolveSibling("guest-hello.log.1");
        Files.createDirectories(log.getParent());
        Files.writeString(log, "x".repeat(10_000) + "last words of the run before\n");
        driver.start(zone);
        assertEquals("cut before xenconsoled appends this run's output", 0, Files.size(log));
        assertEquals(LOG_CAP, Files.size(older));
        assertTrue(Files.readString(older).endsWith("last words of the run before\n"));
        // A flood while the zone runs: xenconsoled appends; the driver's periodic check cuts it.
        try (var out = Files.newOutputStream(log, java.nio.file.StandardOpenOption.APPEND)) {
            out.write(("y".repeat(20_000) + "flood\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (Files.size(log) > LOG_CAP && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals("rotated while watched", 0, Files.size(log));
        assertEquals(LOG_CAP, Files.size(older));
        assertTrue(Files.readString(older).endsWith("flood\n"));
        assertTrue(driver.capabilities().details().get("console.log.cap").startsWith("4 KiB"));
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
    public void networksAndDisksAreRenderedAsVifsOnTheBridgeAndBlkbackDisksWithTheDriversHotplugScripts()
            throws Exception {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().initramfs(ramdisk.toString())
                .network(new io.zonekeeper.api.NetworkAttachment("lan", null))
                .disk(new io.zonekeeper.api.DiskSpec("/var/lib/zonekeeper/disks/data.img", "raw", true)).build();
        TestZone zone = new TestZone(spec, dir.resolve("state/zones/hello"));
        zone.resources = new PreparedResources(List.of(new io.zonekeeper.spi.PreparedNic("lan", "zkt0123456789a",
                "zkb-lan", "0a:1b:2c:3d:4e:5f", "10.99.0.5/24", "10.99.0.1")), List.of(
                        new io.zonekeeper.spi.PreparedDisk("data", "/var/lib/zonekeeper/disks/data.img", "raw", true)));
        driver.start(zone);
        String cfg = Files.readString(XenDriver.configFile(zone));
        Path scripts = dir.resolve("state/cache/xen/hotplug");
        assertTrue(cfg, cfg.contains("vif = [ 'bridge=zkb-lan,mac=0a:1b:2c:3d:4e:5f,vifname=zkt0123456789a,script="
                + scripts.resolve("zk-vif") + "' ]"));
        assertTrue(cfg, cfg.contains("disk = [ 'format=raw,vdev=xvda,access=ro,backendtype=phy,script="
                + scripts.resolve("zk-block") + ",target=/var/lib/zonekeeper/disks/data.img' ]"));
        assertTrue("the hotplug scripts are installed, executable", Files.isExecutable(scripts.resolve("zk-vif"))
                && Files.isExecutable(scripts.resolve("zk-block")));
        assertTrue(Files.readString(scripts.resolve("zk-block")).contains("losetup --find --show $ro"));
    }

    /** A driver whose zones boot its own image, with the vchan group: needs busybox-static and xen-utils-4.17. */
    private XenDriver channelDriver() throws IOException {
        org.junit.Assume.assumeTrue("needs busybox-static", Files.isRegularFile(Path.of("/bin/busybox")));
        org.junit.Assume.assumeTrue("needs xen-utils-4.17",
                Files.isRegularFile(io.zonekeeper.xen.image.ZoneImage.DEFAULT_VCHAN_PROXY));
        org.junit.Assume.assumeTrue("needs libxenmisc4.17", XenCapabilities.libxenvchan().isPresent());
        Path k = Files.writeString(dir.resolve("vmlinuz-6.1.0-test"), "kernel");
        io.zonekeeper.xen.image.ZoneImageTest.fakeModules(dir.resolve("modules"), "6.1.0-test");
        return new XenDriver(new XenDriverSettings(dir.resolve("state"), "xl", DomainConfig.PV, k.toString(),
                dir.resolve("no-xenstored"), dir.resolve("console"), Path.of("/bin/busybox"), dir.resolve("modules"),
                io.zonekeeper.xen.image.ZoneImage.DEFAULT_VCHAN_PROXY), xl);
    }

    private static long keeperOf(TestZone zone) {
        return Long.parseLong(zone.runtime().orElseThrow().get(XenDriver.R_KEEPER).orElseThrow());
    }

    @Test
    public void zonesWithChannelsShareOneKeeperProcessThatOutlivesTheDriverAndEndsWithTheLastZone() throws Exception {
        XenDriver d = channelDriver();
        driver.deactivate();
        driver = d;
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().channel(ChannelSpec.toHost("data")).build();
        ZoneSpec other = spec.toBuilder().name("other").build();
        // Short folders: the socket path must fit in 107 bytes.
        Path zoneDir = Files.createTempDirectory(Path.of("/tmp"), "zk");
        Path otherDir = Files.createTempDirectory(Path.of("/tmp"), "zk");
        try {
            TestZone zone = new TestZone(spec, zoneDir);
            TestZone second = new TestZone(other, otherDir);
            d.start(zone);
            d.start(second);
            String cfg = Files.readString(XenDriver.configFile(zone));
            assertTrue(cfg, cfg.contains("zk.features=vchan zk.channels=data"));
            long pid = keeperOf(zone);
            assertEquals("one keeper for both zones", pid, keeperOf(second));
            Path sock = zoneDir.resolve("channels/data.sock");
            Path otherSock = otherDir.resolve("channels/data.sock");
            assertTrue("the keeper serves the channel's socket", Files.exists(sock) && Files.exists(otherSock));
            assertTrue(d.keepers().serves(pid, zone.id()));
            assertFalse("and only the zones registered with it", d.keepers().serves(pid, UUID.randomUUID()));

            d.deactivate(); // a driver upgrade: the keeper stays, as the domain does
            XenDriver next = channelDriver();
            driver = next;
            assertTrue(next.adopt(zone).adopted());
            assertEquals("adopted with the same keeper", pid, keeperOf(zone));

            next.kill(second);
            assertFalse("the keeper closes the socket of a zone that ended", Files.exists(otherSock));
            assertTrue("and serves the other zone still", Files.exists(sock) && next.keepers().serves(pid, zone.id()));

            ProcessHandle first = ProcessHandle.of(pid).orElseThrow();
            first.destroyForcibly();
            first.onExit().get();
            next.deactivate();
            XenDriver third = channelDriver();
            driver = third;
            assertTrue(third.adopt(zone).adopted());
            long revived = keeperOf(zone);
            assertTrue("a keeper that died is started again at adoption", revived != pid
                    && third.keepers().serves(revived, zone.id()));

            third.kill(zone);
            assertFalse("the keeper removes its socket", Files.exists(sock));
            ProcessHandle last = ProcessHandle.of(revived).orElse(null);
            if (last != null) {
                last.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS); // it ends with its last zone
            }
        } finally {
            for (Path p : List.of(zoneDir, otherDir)) {
                try (var s = Files.walk(p)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
        }
    }

    @Test
    public void aChannelSocketPathTooLongForUnixIsRefusedBeforeXl() throws Exception {
        XenDriver d = channelDriver();
        driver.deactivate();
        driver = d;
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().channel(ChannelSpec.toHost("data")).build();
        TestZone zone = new TestZone(spec, dir.resolve("state/zones/" + "z".repeat(90)));
        DriverException e = assertThrows(DriverException.class, () -> d.start(zone));
        assertTrue(e.getMessage(), e.getMessage().contains("channels[0]: its socket"));
        assertEquals(List.of(), xl.calls);
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
    public void anUpgradeFindsTheDomainThroughXenstoreWithoutXlListLong() throws Exception {
        try (io.zonekeeper.xen.xenstore.FakeXenstored xs = new io.zonekeeper.xen.xenstore.FakeXenstored(
                dir.resolve("xs.sock"))) {
            XenDriverSettings s = settings(xs.socket());
            driver.deactivate();
            driver = new XenDriver(s, xl);
            TestZone zone = hello();
            driver.start(zone);
            assertEquals("the tag", zone.id().toString(), xs.tree.get("/local/domain/1/zonekeeper/zone"));
            // What libxl writes for the domains it creates, dom0's own included.
            xs.tree.put("/local/domain/0/vm", "/vm/00000000-0000-0000-0000-000000000000");
            xs.tree.put("/local/domain/1/vm", "/vm/" + zone.id());
            xs.tree.put("/local/domain/1/name", "hello");
            driver.deactivate();
            xl.calls.clear();
            XenDriver next = new XenDriver(s, xl);
            try {
                Adoption a = next.adopt(zone);
                assertTrue(a.reason(), a.adopted());
                assertEquals(Optional.of(1), next.watchedDomid(zone.id()));
                assertEquals("one plain xl list for the state flags; no configs: " + xl.calls, 0,
                        xl.count("list -l"));
                assertTrue(xs.requests.contains("read /local/domain/1/vm"));
            } finally {
                next.deactivate();
            }

            // The recorded domid now names another domain (the zone's was destroyed, the id reused): xenstore finds
            // no domain of the zone, xl list -l confirms it, and nothing is adopted or destroyed.
            xl.domains.clear();
            xl.domains.put(1, new FakeXl.Dom(1, "other", UUID.randomUUID().toString()));
            xs.tree.put("/local/domain/1/vm", "/vm/" + xl.domains.get(1).uuid);
            xl.calls.clear();
            XenDriver third = new XenDriver(s, xl);
            try {
                Adoption a = third.adopt(zone);
                assertFalse(a.adopted());
                assertTrue(a.reason(), a.reason().contains("no Xen domain has zone hello's uuid"));
                assertEquals("the slow, sure way decides a refusal", 1, xl.count("list -l"));
                third.kill(zone);
                assertTrue(xl.domains.containsKey(1));
            } finally {
                third.deactivate();
            }
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
        assertTrue(c.supports(Feature.NETWORK));
        assertTrue(c.supports(Feature.DISK));
        assertFalse("the settings name no vchan-socket-proxy", c.supports(Feature.CHANNELS));
        assertTrue(c.details().get("channels"), c.details().get("channels").startsWith("none: "));
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
        PreparedResources resources = PreparedResources.NONE;

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
            return resources;
        }
    }
}

package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
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

import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.hostio.GuestProcessScan;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.ZoneContext;
import io.zonekeeper.spi.ZoneResourceProvider;

/**
 * Nothing a zone holds is given back while a process with its uuid lives (read from a /proc of the test's own),
 * and a release that runs late on the guest-end thread never takes back what the next start prepared.
 */
public class ReleaseWhileGuestLivesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path proc;
    private Path state;
    private ZoneRegistry registry;
    private ScriptedDriver kvm;
    private final List<String> log = Collections.synchronizedList(new ArrayList<>());
    private volatile long releaseDelayMs;

    private final class Leases implements ZoneResourceProvider {
        @Override
        public ResourceKind kind() {
            return ResourceKind.NETWORK;
        }

        @Override
        public PreparedResources prepare(UUID id, ZoneSpec spec) {
            log.add("prepare " + spec.name());
            return new PreparedResources(List.of(new PreparedNic("a", "zktap0", "zkb-a", "0a:00:00:00:00:01",
                    "10.99.0.2/24", "10.99.0.1")), List.of());
        }

        @Override
        public void release(UUID id, String zoneName) {
            try {
                Thread.sleep(releaseDelayMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            log.add("release " + zoneName);
        }

        @Override
        public List<String> orphans(Set<UUID> activeZones) {
            return List.of();
        }
    }

    @Before
    public void setUp() throws Exception {
        ScriptedDriver.HOST.clear();
        proc = tmp.newFolder("proc").toPath();
        state = tmp.newFolder("state").toPath();
        registry = open();
    }

    private ZoneRegistry open() throws IOException {
        ZoneRegistry r = new ZoneRegistry(new GuestProcessScan(proc));
        r.open(state, tmp.getRoot().toPath().resolve("zones"), Duration.ofMillis(300), Duration.ofSeconds(1));
        kvm = new ScriptedDriver("kvm");
        kvm.features = EnumSet.of(Feature.ADOPTION, Feature.NETWORK);
        r.addDriver(new DriverBinding(kvm, "kvm-driver", "1.0.0", 1));
        r.addResourceProvider(new Leases());
        return r;
    }

    @After
    public void tearDown() {
        registry.close();
    }

    private void qemuWithUuid(String pid, UUID id) throws IOException {
        Files.createDirectories(proc.resolve(pid));
        Files.write(proc.resolve(pid).resolve("cmdline"), ("qemu-system-x86_64\0-uuid\0" + id + "\0").getBytes());
    }

    private void awaitLog(String line) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!log.contains(line) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    private static ZoneSpec spec(String name) {
        return ZoneSpec.builder(name).network(new NetworkAttachment("a", null)).build();
    }

    @Test
    public void aCrashReportedWhileAProcessWithTheUuidLivesKeepsTheLeaseUntilItIsGone() throws Exception {
        registry.create(spec("z1"));
        registry.start("z1");
        UUID id = registry.get("z1").orElseThrow().id();
        qemuWithUuid("4242", id);
        kvm.lastStarted.report(ZoneState.CRASHED, "QMP closed");
        assertEquals(ZoneState.CRASHED, registry.get("z1").orElseThrow().state());
        assertFalse("released while pid 4242 carries the uuid: " + log, log.contains("release z1"));

        Files.delete(proc.resolve("4242").resolve("cmdline"));
        Files.delete(proc.resolve("4242"));
        awaitLog("release z1");
        assertTrue("released once the process is gone: " + log, log.contains("release z1"));
    }

    @Test
    public void aZoneLeftStartingWithoutARecordIsNamedAndKeepsItsLeaseWhileItsProcessLives() throws Exception {
        registry.create(spec("z2"));
        registry.start("z2");
        UUID id = registry.get("z2").orElseThrow().id();
        // The appliance dies between the launch and the record: the next one finds the zone active, no record.
        registry.close();
        Files.delete(state.resolve("zones").resolve("z2").resolve("runtime.json"));
        ScriptedDriver.HOST.remove(id);
        qemuWithUuid("777", id);
        log.clear();
        registry = open();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (registry.get("z2").orElseThrow().state() != ZoneState.CRASHED && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        var info = registry.get("z2").orElseThrow();
        assertEquals(ZoneState.CRASHED, info.state());
        assertTrue(info.reason(), info.reason().contains("[777]"));
        assertFalse(log.toString(), log.contains("release z2"));
    }

    @Test
    public void aStartRightAfterACrashWaitsForTheCrashToGiveItsLeaseBack() throws Exception {
        registry.create(spec("z3"));
        registry.start("z3");
        ZoneContext guest = kvm.lastStarted;
        releaseDelayMs = 400;
        Thread watcher = new Thread(() -> guest.report(ZoneState.CRASHED, "QEMU died"));
        watcher.start();
        while (registry.get("z3").orElseThrow().state() != ZoneState.CRASHED) {
            Thread.sleep(1);
        }
        log.clear();
        registry.start("z3");
        watcher.join();
        assertEquals("the late release ran before the new start prepared", List.of("release z3", "prepare z3"),
                log);
    }
}

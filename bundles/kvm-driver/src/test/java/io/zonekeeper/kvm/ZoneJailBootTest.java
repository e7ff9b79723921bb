package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.jail.CgroupHierarchy;
import io.zonekeeper.kvm.jail.ZoneJail;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.kvm.qmp.QmpException;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import jakarta.json.Json;

/**
 * Two real zones under TCG, each QEMU in a jail of its own: not root, not the other's uid, chrooted, in the zone's
 * cgroup; and a QEMU asked over QMP to open the other zone's disk or a root-only host file (what a compromised
 * QEMU would do) cannot. The first zone is paused while the second runs, so only one guest uses CPU at a time.
 */
public class ZoneJailBootTest {
    private static final Path STATE = Path.of("target", "kvm-jail-state").toAbsolutePath();
    private final List<Path> dirs = new ArrayList<>();
    private KvmDriver driver;

    @BeforeClass
    public static void needsQemuKernelAndBusybox() throws IOException {
        BootPrerequisites.need("qemu-system-x86_64 is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "qemu-system-x86_64"))));
        BootPrerequisites.need("busybox-static is installed", Files.isRegularFile(Path.of("/bin/busybox")));
    }

    @After
    public void killEverythingStarted() throws IOException {
        if (driver != null) {
            driver.deactivate();
        }
        OurQemus.kill();
        for (Path d : dirs) {
            try (Stream<Path> walk = Files.walk(d)) {
                walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private TestZone zoneWithDisk(String name) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        dirs.add(dir);
        Path disk = dir.resolve("data.img");
        Files.write(disk, new byte[1 << 20]);
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder(name).disk(new DiskSpec(disk.toString(), "raw",
                false)).build(), dir);
        z.resources = new PreparedResources(List.of(), List.of(new PreparedDisk("data", disk.toString(), "raw",
                false)));
        return z;
    }

    private static void waitForConsole(TestZone z, String text) throws Exception {
        Path log = z.directory().resolve("console.log");
        for (int i = 0; i < 600; i++) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(text)) {
                return;
            }
            Thread.sleep(50);
        }
        fail("console of " + z.name() + " never showed '" + text + "'");
    }

    /** Real, effective, saved and filesystem uids (or gids) from /proc/PID/status. */
    private static List<Integer> ids(long pid, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
            if (line.startsWith(key + ":")) {
                return Stream.of(line.substring(key.length() + 1).trim().split("\\s+")).map(Integer::valueOf)
                        .toList();
            }
        }
        throw new AssertionError("no " + key + " line for pid " + pid);
    }

    private static long pidOf(RuntimeRecord r) {
        return Long.parseLong(r.get(RuntimeRecord.PID).orElseThrow());
    }

    private static void assertJailed(RuntimeRecord r, Map<String, String> info) throws IOException {
        long pid = pidOf(r);
        ZoneJail jail = ZoneJail.fromRecord(r.properties()).orElseThrow(() -> new AssertionError(
                "the runtime record names no jail: " + r.properties()));
        assertEquals(List.of(jail.uid(), jail.uid(), jail.uid(), jail.uid()), ids(pid, "Uid"));
        assertEquals(List.of(jail.gid(), jail.gid(), jail.gid(), jail.gid()), ids(pid, "Gid"));
        assertNotEquals(0, jail.uid());
        assertEquals(jail.root(), Files.readSymbolicLink(Path.of("/proc", String.valueOf(pid), "root")));
        String status = Files.readString(Path.of("/proc", String.valueOf(pid), "status"));
        assertTrue(status, status.contains("NoNewPrivs:\t1"));
        assertTrue(status, status.contains("Seccomp:\t2"));
        assertTrue(status, status.contains("CapEff:\t0000000000000000"));
        if (info.get("cgroup").startsWith("none:")) {
            assertTrue("the host has no cgroup2 and the record still names a group", jail.cgroup().isEmpty());
        } else {
            Path group = jail.cgroup().orElseThrow(() -> new AssertionError("cgroup2 is there (" + info.get("cgroup")
                    + ") but the zone got no group"));
            String inProc = CgroupHierarchy.groupOfProcess(pid).orElseThrow();
            assertTrue(group + " does not end with the group /proc/" + pid + "/cgroup names, " + inProc,
                    group.toString().endsWith(inProc) && inProc.endsWith(group.getFileName().toString()));
        }
    }

    @Test
    public void eachZonesQemuRunsAsItsOwnUidInItsOwnCgroupAndCannotOpenAnotherZonesDisk() throws Exception {
        driver = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        Map<String, String> info = driver.capabilities().details();
        assertTrue(info.get("jail"), info.get("jail").startsWith("on:"));
        TestZone a = zoneWithDisk("ja");
        TestZone b = zoneWithDisk("jb");

        RuntimeRecord ra = driver.start(a);
        waitForConsole(a, "zonekeeper: zone ja ready");
        assertJailed(ra, info);
        driver.pause(a);
        RuntimeRecord rb = driver.start(b);
        waitForConsole(b, "zonekeeper: zone jb ready");
        assertJailed(rb, info);
        assertNotEquals("two running zones share a uid", ra.get(ZoneJail.R_UID), rb.get(ZoneJail.R_UID));

        QmpClient qmp = driver.qmpOf(b.id()).orElseThrow();
        String aDisk = a.resources.disks().get(0).path();
        for (String target : List.of(aDisk, "/etc/shadow", "/proc/1/environ")) {
            try {
                qmp.execute("blockdev-add", Json.createObjectBuilder().add("driver", "file")
                        .add("node-name", "stolen" + Math.abs(target.hashCode())).add("filename", target)
                        .add("read-only", true).build(), QmpClient.DEFAULT_TIMEOUT);
                fail("zone jb's QEMU opened " + target);
            } catch (QmpException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("No such file")
                        || e.getMessage().contains("Permission denied"));
            }
        }
        // The guest still runs: the refusals cost it nothing.
        assertEquals("running", qmp.queryStatus());

        Path groupA = ZoneJail.fromRecord(ra.properties()).orElseThrow().cgroup().orElse(null);
        driver.kill(a);
        driver.kill(b);
        assertFalse(QemuProcess.isQemuOf(pidOf(ra), a.id()));
        if (groupA != null) {
            assertFalse("the group of a zone that ended stays: " + groupA, Files.exists(groupA));
        }
    }

    @Test
    public void aZoneAdoptedByANewDriverKeepsItsJailAndItsIdIsNotGivenAway() throws Exception {
        driver = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        TestZone a = zoneWithDisk("jc");
        RuntimeRecord ra = driver.start(a);
        waitForConsole(a, "zonekeeper: zone jc ready");
        driver.deactivate();

        driver = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        assertTrue(driver.adopt(a).adopted());
        assertJailed(ra, driver.capabilities().details());
        // A zone this new driver starts gets another id, though it never saw the adopted zone's start.
        driver.pause(a);
        TestZone b = zoneWithDisk("jd");
        RuntimeRecord rb = driver.start(b);
        assertNotEquals(ra.get(ZoneJail.R_UID), rb.get(ZoneJail.R_UID));
        driver.kill(b);
        driver.kill(a);
    }
}

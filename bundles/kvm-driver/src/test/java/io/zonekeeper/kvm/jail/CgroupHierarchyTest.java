package io.zonekeeper.kvm.jail;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.Test;

public class CgroupHierarchyTest {
    @Test
    public void findsTheUnifiedMountOnAUnifiedAndOnAHybridHost() {
        assertEquals(Optional.of(Path.of("/sys/fs/cgroup")), CgroupHierarchy.cgroup2Mount(List.of(
                "25 21 0:22 / /sys rw,nosuid - sysfs sysfs rw",
                "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw")));
        assertEquals(Optional.of(Path.of("/sys/fs/cgroup/unified")), CgroupHierarchy.cgroup2Mount(List.of(
                "31 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
                "40 30 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw")));
        assertEquals(Optional.empty(), CgroupHierarchy.cgroup2Mount(List.of(
                "31 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory")));
    }

    @Test
    public void limitsAreGuestMemoryPlusOverheadAndFollowTheVcpus() {
        CgroupLimits l = CgroupLimits.of(512, 2, 256);
        assertEquals(768L << 20, l.memoryMax());
        assertEquals(130, l.pidsMax());
        assertEquals("300000 100000", l.cpuMax());
        assertEquals(200, l.cpuWeight());
        assertEquals("memory", CgroupLimits.controllerOf("memory.swap.max"));
        assertThrows(IllegalArgumentException.class, () -> CgroupLimits.of(0, 1, 256));
    }

    @Test
    public void aParentOutsideTheMountIsRefusedAndSaysWhy() {
        CgroupHierarchy h = CgroupHierarchy.find(Path.of("/proc/self/mountinfo"), "../../etc");
        assertFalse(h.available());
        assertTrue(h.describe(), h.describe().startsWith("none:"));
    }

    /** A cgroup2 mount in a folder: its controllers, and what is enabled already for the root and the parent. */
    private static CgroupHierarchy fakeHierarchy(String offered, String enabled) throws Exception {
        Path root = Files.createTempDirectory("zk-cgroup2");
        Files.writeString(root.resolve("cgroup.controllers"), offered);
        Files.writeString(root.resolve("cgroup.subtree_control"), enabled);
        Files.createDirectory(root.resolve("zonekeeper"));
        Files.writeString(root.resolve("zonekeeper").resolve("cgroup.subtree_control"), enabled);
        Path mountinfo = root.resolve("mountinfo");
        Files.writeString(mountinfo, "36 30 0:31 / " + root + " rw,relatime - cgroup2 cgroup2 rw\n");
        return CgroupHierarchy.find(mountinfo, "zonekeeper");
    }

    @Test
    public void saysInOneLineWhetherLimitsHold() throws Exception {
        assertEquals("not enforced (cgroup v2 memory/pids/cpu controllers not available)",
                fakeHierarchy("hugetlb", "").limits());
        assertEquals("partly enforced: memory (cgroup v2 pids/cpu controllers not available)",
                fakeHierarchy("memory hugetlb", "memory").limits());
        assertEquals("enforced (memory, pids, cpu)", fakeHierarchy("cpu memory pids", "memory pids cpu").limits());
        assertEquals("not enforced (no cgroup2 file system is mounted (cgroup v1 only))",
                CgroupHierarchy.none("no cgroup2 file system is mounted (cgroup v1 only)").limits());
    }
}

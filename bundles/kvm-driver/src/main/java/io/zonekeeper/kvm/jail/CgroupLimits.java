package io.zonekeeper.kvm.jail;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The cgroup v2 limits of one zone's QEMU, worked out from its spec.
 *
 * @param memoryMax bytes: the guest's memory plus the overhead (QEMU itself, its TCG translation cache, device
 *                  buffers and the page cache of its disk images, which the kernel reclaims first)
 * @param pidsMax   tasks: QEMU's threads (main loop, RCU, one per vCPU, up to 64 block-layer workers, I/O threads);
 *                  under {@code -sandbox spawn=deny} it cannot fork, so this caps threads
 * @param cpuMax    {@code cpu.max}: vCPUs plus one core for QEMU's own threads, per 100 ms period
 * @param cpuWeight {@code cpu.weight}: 100 per vCPU, so a busy zone gets CPU in proportion to what it declared
 */
public record CgroupLimits(long memoryMax, int pidsMax, String cpuMax, int cpuWeight) {
    public static final long DEFAULT_MEMORY_OVERHEAD_MIB = 256;
    static final int PIDS_BASE = 128;
    static final long CPU_PERIOD_US = 100_000;

    public static CgroupLimits of(int memoryMiB, int vcpus, long overheadMiB) {
        if (memoryMiB < 1 || vcpus < 1 || overheadMiB < 0) {
            throw new IllegalArgumentException("cgroup limits need memory and vCPUs of at least 1 and an overhead of"
                    + " at least 0, not " + memoryMiB + " MiB, " + vcpus + " vCPUs, " + overheadMiB + " MiB");
        }
        return new CgroupLimits((memoryMiB + overheadMiB) << 20, PIDS_BASE + vcpus,
                (vcpus + 1) * CPU_PERIOD_US + " " + CPU_PERIOD_US, (int) Math.min(10_000, 100L * vcpus));
    }

    /** Each limit as the file of the group it is written to, with the controller that file needs. */
    Map<String, String> files() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("memory.max", String.valueOf(memoryMax));
        f.put("memory.swap.max", "0");
        f.put("pids.max", String.valueOf(pidsMax));
        f.put("cpu.max", cpuMax);
        f.put("cpu.weight", String.valueOf(cpuWeight));
        return f;
    }

    static String controllerOf(String file) {
        return file.substring(0, file.indexOf('.'));
    }
}

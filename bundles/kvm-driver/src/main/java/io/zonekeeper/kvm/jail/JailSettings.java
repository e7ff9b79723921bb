package io.zonekeeper.kvm.jail;

/**
 * How zones' QEMUs are confined.
 *
 * @param enabled           false runs every QEMU as root, as before (for hosts where -runas cannot work)
 * @param idBase            the first uid/gid a zone may get
 * @param idCount           how many ids, from {@code idBase} on, zones may get
 * @param memoryOverheadMiB what a zone's cgroup allows above its guest memory
 * @param cgroupParent      the folder, below the cgroup2 mount, that holds one group per zone
 */
public record JailSettings(boolean enabled, int idBase, int idCount, long memoryOverheadMiB, String cgroupParent) {
    public static final JailSettings DEFAULT = new JailSettings(true, JailIds.DEFAULT_BASE, JailIds.DEFAULT_COUNT,
            CgroupLimits.DEFAULT_MEMORY_OVERHEAD_MIB, "zonekeeper");

    public JailSettings {
        JailIds.refuseBadRange(idBase, idCount);
        if (memoryOverheadMiB < 0) {
            throw new IllegalArgumentException("the cgroup memory overhead must be at least 0 MiB, not "
                    + memoryOverheadMiB);
        }
        cgroupParent = cgroupParent == null || cgroupParent.isBlank() ? "zonekeeper" : cgroupParent.strip();
    }
}

package io.zonekeeper.guest;

import java.nio.file.Path;

/**
 * Where an image zone's workload output goes: its stdout and stderr, kept apart from the kernel's console lines. The
 * guest writes them to a port of their own ({@link #KVM_PORT_NAME} on KVM); the hypervisor side appends them to
 * {@link #FILE_NAME} in the zone's folder, whatever the hypervisor, so that {@code zone:logs --workload} finds the
 * log while the zone is stopped and while its driver is away. The driver keeps the file under its log cap and
 * rotates it to {@code workload.log.1}, as it does the console log.
 */
public final class WorkloadLog {
    /** The log's file name in the zone's folder. */
    public static final String FILE_NAME = "workload.log";
    /** The name of the workload's virtio-serial port, which the zone init looks for under /sys/class/virtio-ports. */
    public static final String KVM_PORT_NAME = "io.zonekeeper.workload";

    private WorkloadLog() {
    }

    /** The workload log of the zone whose folder is {@code zoneDirectory}. */
    public static Path in(Path zoneDirectory) {
        return zoneDirectory.resolve(FILE_NAME);
    }
}

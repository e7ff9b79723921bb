package io.zonekeeper.kvm.qemu;

import java.nio.file.Path;

import io.zonekeeper.guest.WorkloadLog;

/**
 * The files the KVM driver keeps in a zone's folder. Short names on purpose: a Unix socket path may have at most
 * {@link #MAX_SOCKET_PATH} bytes.
 */
public record ZoneFiles(Path dir) {
    public static final int MAX_SOCKET_PATH = 107;

    public ZoneFiles {
        dir = dir.toAbsolutePath();
    }

    public Path qmpSocket() {
        return dir.resolve("qmp.sock");
    }

    /** The interactive end of the serial console; QEMU accepts one client at a time. */
    public Path consoleSocket() {
        return dir.resolve("console.sock");
    }

    /** Everything the guest wrote on its serial console, appended across boots; it outlives the guest. */
    public Path consoleLog() {
        return dir.resolve("console.log");
    }

    /**
     * An image zone's workload output (stdout and stderr), which QEMU appends to from the workload's virtio-serial
     * port; apart from the console's kernel lines. Capped and rotated like {@link #consoleLog()}.
     */
    public Path workloadLog() {
        return WorkloadLog.in(dir);
    }

    public Path pidFile() {
        return dir.resolve("qemu.pid");
    }

    /** QEMU's own stdout and stderr. */
    public Path qemuLog() {
        return dir.resolve("qemu.log");
    }

    /** The host end of the guest agent's virtio-serial port: a socket QEMU listens on (docs/AGENT-PROTOCOL.md). */
    public Path agentSocket() {
        return dir.resolve("agent.sock");
    }

    /** An image zone's workload, as its init reads it from a read-only disk (ImageWorkload). */
    public Path workloadFile() {
        return dir.resolve("workload.zk");
    }

    public Path channelsDir() {
        return dir.resolve("channels");
    }

    /** The host end of a channel: a socket QEMU listens on. */
    public Path channelSocket(String name) {
        return channelsDir().resolve(name + ".sock");
    }
}

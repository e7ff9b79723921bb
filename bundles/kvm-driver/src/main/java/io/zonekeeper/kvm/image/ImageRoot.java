package io.zonekeeper.kvm.image;

import java.nio.file.Path;

/**
 * An image zone's root as QEMU gets it: the image store's squashfs file, attached read-only (serial
 * {@value #IMAGE_SERIAL}), and the zone's workload file ({@link io.zonekeeper.image.ImageWorkload#encode}), a second read-only disk
 * (serial {@value #WORKLOAD_SERIAL}). The zone init finds both by serial, mounts the image under a tmpfs overlay and
 * runs the workload in it.
 */
public record ImageRoot(Path rootfs, Path workload) {
    public static final String IMAGE_SERIAL = "zk-image";
    public static final String WORKLOAD_SERIAL = "zk-workload";
}

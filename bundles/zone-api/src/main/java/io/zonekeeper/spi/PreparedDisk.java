package io.zonekeeper.spi;

/**
 * A zone's disk as the appliance checked and locked it: the driver renders it as the guest's next block device.
 *
 * @param name     a short name for the guest ({@code /mnt/NAME}): the image's file name without its extension
 * @param path     the image's real path (symlinks resolved), inside a folder the configuration allows
 * @param format   {@code raw} or {@code qcow2}: the format the appliance recorded for the image (at disk:create or its
 *                 first attach), never learnt from the image, which its guest writes
 * @param readOnly true when the guest must not write to it
 */
public record PreparedDisk(String name, String path, String format, boolean readOnly) {
}

package io.zonekeeper.disk;

import java.nio.file.Path;

/** An image as {@code disk:list} shows it. */
public record DiskImage(String name, Path path, String format, long bytes, DiskLock lock) {
}

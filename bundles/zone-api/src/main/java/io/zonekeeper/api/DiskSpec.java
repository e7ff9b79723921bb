package io.zonekeeper.api;

import java.util.Objects;

/** A disk image given to a zone: its path, its format ({@code raw} or {@code qcow2}) and whether it is read-only. */
public final class DiskSpec {
    public static final String FORMAT_RAW = "raw";
    public static final String FORMAT_QCOW2 = "qcow2";
    private final String path;
    private final String format;
    private final boolean readOnly;

    public DiskSpec(String path, String format, boolean readOnly) {
        this.path = path;
        this.format = format;
        this.readOnly = readOnly;
    }

    public String path() {
        return path;
    }

    public String format() {
        return format;
    }

    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DiskSpec d && readOnly == d.readOnly && Objects.equals(path, d.path)
                && Objects.equals(format, d.format);
    }

    @Override
    public int hashCode() {
        return Objects.hash(path, format, readOnly);
    }

    @Override
    public String toString() {
        return path + " (" + format + (readOnly ? ", read-only" : "") + ")";
    }
}

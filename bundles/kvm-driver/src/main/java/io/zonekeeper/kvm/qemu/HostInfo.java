package io.zonekeeper.kvm.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/** Facts about this host that shape a zone's QEMU arguments and what the driver can promise. */
public final class HostInfo {
    private HostInfo() {
    }

    /**
     * What a start needs to know of the host, read once per start: the memory and cores it can give a zone, and
     * the TSC frequency for the guest's {@code tsc_early_khz} (empty when unknown).
     */
    public record Facts(long memAvailableMiB, int cores, OptionalLong tscKhz) {
    }

    public static Facts facts() {
        return new Facts(memAvailableMiB(), cores(), tscKhz());
    }

    public static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** MemAvailable in MiB, or -1 when /proc/meminfo cannot be read. */
    public static long memAvailableMiB() {
        try {
            return memAvailableMiB(Files.readString(Path.of("/proc/meminfo")));
        } catch (IOException e) {
            return -1;
        }
    }

    /** The host's TSC frequency in kHz from /proc/cpuinfo, for the guest's {@code tsc_early_khz}. */
    public static OptionalLong tscKhz() {
        try {
            return tscKhz(Files.readString(Path.of("/proc/cpuinfo")));
        } catch (IOException e) {
            return OptionalLong.empty();
        }
    }

    static long memAvailableMiB(String meminfo) {
        for (String line : meminfo.split("\n")) {
            if (line.startsWith("MemAvailable:")) {
                String[] t = line.substring(13).trim().split("\\s+");
                return Long.parseLong(t[0]) / 1024;
            }
        }
        return -1;
    }

    static OptionalLong tscKhz(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            if (line.startsWith("cpu MHz")) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    try {
                        double mhz = Double.parseDouble(line.substring(colon + 1).trim());
                        if (mhz > 0) {
                            return OptionalLong.of(Math.round(mhz * 1000));
                        }
                    } catch (NumberFormatException ignored) {
                        // try the next processor's line
                    }
                }
            }
        }
        return OptionalLong.empty();
    }
}

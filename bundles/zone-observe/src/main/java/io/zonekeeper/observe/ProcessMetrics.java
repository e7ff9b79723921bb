package io.zonekeeper.observe;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.osgi.service.component.annotations.Component;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * CPU time and resident memory of the host process that runs a zone's guest (QEMU under KVM), as the kernel counts
 * them in {@code /proc/PID/stat} and {@code /proc/PID/status}: for every active zone whose driver recorded a
 * {@link RuntimeRecord#PID}. The CPU time is user plus system time of all the process's threads, vCPUs included.
 */
@Component(service = ZoneMetricsSource.class)
public class ProcessMetrics implements ZoneMetricsSource {
    /** USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture this runs on. */
    static final double TICKS_PER_SECOND = 100;
    private final Path proc;

    public ProcessMetrics() {
        this(Path.of("/proc"));
    }

    ProcessMetrics(Path proc) {
        this.proc = proc;
    }

    @Override
    public List<ZoneMetric> collect(ZoneInfo zone) {
        String pid = zone.runtime().get(RuntimeRecord.PID);
        if (!zone.state().isActive() || pid == null || !pid.matches("[1-9][0-9]{0,9}")) {
            return List.of();
        }
        List<ZoneMetric> out = new ArrayList<>();
        try {
            double[] cpu = cpuSeconds(Files.readString(proc.resolve(pid).resolve("stat")));
            out.add(ZoneMetric.counter("zonekeeper_zone_cpu_seconds", "CPU time of the zone's host process "
                    + "(user and system, all threads), from /proc/PID/stat", cpu[0] + cpu[1]));
            long rss = rssBytes(Files.readString(proc.resolve(pid).resolve("status")));
            if (rss >= 0) {
                out.add(ZoneMetric.gauge("zonekeeper_zone_memory_rss_bytes", "Resident memory of the zone's host "
                        + "process, from /proc/PID/status VmRSS", rss));
            }
        } catch (IOException | RuntimeException e) {
            return List.of(); // the process ended meanwhile
        }
        return out;
    }

    /** User and system seconds from a /proc/PID/stat line; the command name in parentheses may hold spaces. */
    static double[] cpuSeconds(String stat) {
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/PID/stat line");
        }
        // After ") ": state is field 3, so utime (field 14) and stime (field 15) are the 12th and 13th here.
        String[] f = stat.substring(close + 2).trim().split(" +");
        return new double[] { Long.parseLong(f[11]) / TICKS_PER_SECOND, Long.parseLong(f[12]) / TICKS_PER_SECOND };
    }

    /** VmRSS in bytes, or -1 when the status has none (a zombie). */
    static long rssBytes(String status) {
        for (String line : status.split("\n")) {
            if (line.startsWith("VmRSS:")) {
                String[] f = line.substring(6).trim().split("\\s+");
                return Long.parseLong(f[0]) * 1024;
            }
        }
        return -1;
    }
}

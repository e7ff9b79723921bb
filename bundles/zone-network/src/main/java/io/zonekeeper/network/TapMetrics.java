package io.zonekeeper.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;

/**
 * A zone's network traffic as the host kernel counts it on the zone's taps, seen from the guest: what the tap
 * transmits the guest receives. Only taps this appliance leased to the zone. Read from {@code /proc/net/dev}, which
 * shows the network namespace of the reader (unlike {@code /sys/class/net}, which shows the namespace that mounted
 * sysfs), so the counters are right for an appliance in a namespace of its own too.
 */
@Component(service = ZoneMetricsSource.class)
public class TapMetrics implements ZoneMetricsSource {
    private final Path procNetDev;

    @Reference
    private NetworkProvider provider;

    public TapMetrics() {
        this(Path.of("/proc/net/dev"));
    }

    TapMetrics(Path procNetDev) {
        this.procNetDev = procNetDev;
    }

    @Override
    public List<ZoneMetric> collect(ZoneInfo zone) {
        if (zone.spec().networks().isEmpty() || !zone.state().isActive()) {
            return List.of();
        }
        Map<String, long[]> counters;
        try {
            counters = parse(Files.readString(procNetDev));
        } catch (IOException e) {
            return List.of();
        }
        List<ZoneMetric> out = new ArrayList<>();
        for (NetworkRecord n : provider.networks().list()) {
            for (Lease l : n.leases()) {
                long[] c = l.tap() == null ? null : counters.get(l.tap());
                if (l.zoneId().equals(zone.id()) && c != null) {
                    out.addAll(of(l.tap(), n.name(), c));
                }
            }
        }
        return out;
    }

    /**
     * The receive and transmit bytes and packets of each interface in {@code /proc/net/dev}, in the host's view:
     * {rx bytes, rx packets, tx bytes, tx packets}.
     */
    static Map<String, long[]> parse(String procNetDev) {
        Map<String, long[]> out = new HashMap<>();
        for (String line : procNetDev.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue; // the two header lines
            }
            String[] f = line.substring(colon + 1).trim().split("\\s+");
            if (f.length < 10) {
                continue;
            }
            try {
                out.put(line.substring(0, colon).trim(), new long[] { Long.parseLong(f[0]), Long.parseLong(f[1]),
                        Long.parseLong(f[8]), Long.parseLong(f[9]) });
            } catch (NumberFormatException e) {
                // not a counter line
            }
        }
        return out;
    }

    /** The four counters of one tap, turned to the guest's view. */
    static List<ZoneMetric> of(String tap, String network, long[] host) {
        return List.of(
                counter("zonekeeper_zone_network_receive_bytes", "Bytes the zone received on the network (its tap's "
                        + "transmitted bytes)", host[2], network, tap),
                counter("zonekeeper_zone_network_transmit_bytes", "Bytes the zone sent on the network (its tap's "
                        + "received bytes)", host[0], network, tap),
                counter("zonekeeper_zone_network_receive_packets", "Packets the zone received on the network (its "
                        + "tap's transmitted packets)", host[3], network, tap),
                counter("zonekeeper_zone_network_transmit_packets", "Packets the zone sent on the network (its tap's "
                        + "received packets)", host[1], network, tap));
    }

    private static ZoneMetric counter(String name, String help, long value, String network, String tap) {
        return ZoneMetric.counter(name, help, value).with("network", network).with("tap", tap);
    }
}

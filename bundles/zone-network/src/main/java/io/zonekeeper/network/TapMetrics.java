package io.zonekeeper.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;

/**
 * A zone's network traffic as the host kernel counts it on the zone's taps ({@code /sys/class/net/TAP/statistics}),
 * seen from the guest: what the tap transmits the guest receives. Only taps this appliance leased to the zone.
 */
@Component(service = ZoneMetricsSource.class)
public class TapMetrics implements ZoneMetricsSource {
    private final Path sysClassNet;

    @Reference
    private NetworkProvider provider;

    public TapMetrics() {
        this(Path.of("/sys/class/net"));
    }

    TapMetrics(Path sysClassNet) {
        this.sysClassNet = sysClassNet;
    }

    @Override
    public List<ZoneMetric> collect(ZoneInfo zone) {
        if (zone.spec().networks().isEmpty() || !zone.state().isActive()) {
            return List.of();
        }
        List<ZoneMetric> out = new ArrayList<>();
        for (NetworkRecord n : provider.networks().list()) {
            for (Lease l : n.leases()) {
                if (l.zoneId().equals(zone.id()) && l.tap() != null && l.tap().matches("[A-Za-z0-9_.-]{1,15}")) {
                    out.addAll(of(l.tap(), n.name()));
                }
            }
        }
        return out;
    }

    /** The four counters of one tap, or none when it is gone (the guest ended meanwhile). */
    List<ZoneMetric> of(String tap, String network) {
        Path stats = sysClassNet.resolve(tap).resolve("statistics");
        try {
            long rxBytes = read(stats, "tx_bytes");
            long txBytes = read(stats, "rx_bytes");
            long rxPackets = read(stats, "tx_packets");
            long txPackets = read(stats, "rx_packets");
            return List.of(
                    counter("zonekeeper_zone_network_receive_bytes", "Bytes the zone received on the network (its "
                            + "tap's tx_bytes)", rxBytes, network, tap),
                    counter("zonekeeper_zone_network_transmit_bytes", "Bytes the zone sent on the network (its tap's "
                            + "rx_bytes)", txBytes, network, tap),
                    counter("zonekeeper_zone_network_receive_packets", "Packets the zone received on the network (its"
                            + " tap's tx_packets)", rxPackets, network, tap),
                    counter("zonekeeper_zone_network_transmit_packets", "Packets the zone sent on the network (its "
                            + "tap's rx_packets)", txPackets, network, tap));
        } catch (IOException | NumberFormatException e) {
            return List.of();
        }
    }

    private static ZoneMetric counter(String name, String help, long value, String network, String tap) {
        return ZoneMetric.counter(name, help, value).with("network", network).with("tap", tap);
    }

    private static long read(Path stats, String counter) throws IOException {
        return Long.parseLong(Files.readString(stats.resolve(counter)).trim());
    }
}

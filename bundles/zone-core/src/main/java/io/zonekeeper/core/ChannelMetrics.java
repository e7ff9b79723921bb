package io.zonekeeper.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;

/**
 * The bytes each of a zone's channels moved, as its guest reports them on its console ({@link ChannelCounters}):
 * the guest's word, counted from its boot, so they start over when it restarts.
 */
@Component(service = ZoneMetricsSource.class)
public class ChannelMetrics implements ZoneMetricsSource {
    @Reference
    private ZoneRegistry registry;

    @Override
    public List<ZoneMetric> collect(ZoneInfo zone) {
        if (zone.spec().channels().isEmpty()) {
            return List.of();
        }
        Map<String, ChannelCounters.Counters> reported;
        try {
            reported = ChannelCounters.fromConsoleLog(registry.consoleLog(zone.name()), zone.name());
        } catch (ZoneException e) {
            return List.of(); // destroyed meanwhile
        }
        List<ZoneMetric> out = new ArrayList<>();
        reported.forEach((channel, c) -> {
            out.add(ZoneMetric.counter("zonekeeper_zone_channel_sent_bytes", "Bytes the guest reports it sent on "
                    + "the channel since it booted", c.sent()).with("channel", channel));
            out.add(ZoneMetric.counter("zonekeeper_zone_channel_received_bytes", "Bytes the guest reports it "
                    + "received on the channel since it booted", c.received()).with("channel", channel));
        });
        return out;
    }
}

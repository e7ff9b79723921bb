package io.zonekeeper.api.metrics;

import java.util.List;

import org.osgi.annotation.versioning.ConsumerType;

import io.zonekeeper.api.ZoneInfo;

/**
 * Register this as a service to add figures about zones. Called on a metrics thread, once per zone per collection:
 * read what the host or the hypervisor already counts (a /proc or /sys file, a hypervisor query) and return; never
 * block for long, and never start counting by sitting in a data path.
 */
@ConsumerType
public interface ZoneMetricsSource {
    /**
     * What this source counts about {@code zone} now; empty for a zone it knows nothing about (another driver's, one
     * that does not run). The zone's name is added as the {@code zone} label by the caller; do not add it.
     */
    List<ZoneMetric> collect(ZoneInfo zone);
}

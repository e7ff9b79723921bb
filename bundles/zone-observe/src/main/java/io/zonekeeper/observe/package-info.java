/**
 * What zones do, for an operator: the lifecycle events zone-core posts to the Event Admin, kept in a bounded log that
 * survives a restart ({@code zone:events}); per-zone metrics from every {@link io.zonekeeper.api.metrics.ZoneMetricsSource}
 * ({@code zone:stats}, {@code zone:top}); and their Prometheus text ({@code zone:metrics} over the control socket, HTTP
 * only on an address the operator configures). Private to this bundle.
 */
package io.zonekeeper.observe;

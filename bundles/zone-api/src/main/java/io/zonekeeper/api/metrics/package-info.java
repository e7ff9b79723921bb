/**
 * Per-zone metrics: what a bundle (a hypervisor driver, a resource provider, a vendor's add-on) counts about a zone,
 * offered as a {@link io.zonekeeper.api.metrics.ZoneMetricsSource} service. zone-observe asks every source about
 * every zone when an operator or a scraper asks (zone:stats, zone:top, Prometheus) and labels each figure with the
 * zone's name.
 */
@Export
@Version("1.0.0")
package io.zonekeeper.api.metrics;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;

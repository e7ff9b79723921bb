/**
 * The driver conformance kit: scenarios that any {@link io.zonekeeper.spi.HypervisorDriver} bundle runs against
 * itself, through the {@link io.zonekeeper.api.ZoneManager} of a real container, with real guests. Start with
 * {@link io.zonekeeper.conformance.DriverConformance}.
 */
@Export
@Version("1.1.0")
package io.zonekeeper.conformance;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;

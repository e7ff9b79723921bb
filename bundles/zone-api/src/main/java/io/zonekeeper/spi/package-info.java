/**
 * The driver SPI: what a hypervisor driver implements so that zone-core can run zones on it. One short
 * interface, {@link io.zonekeeper.spi.HypervisorDriver}; optional abilities are small extra interfaces.
 */
@Export
@Version("1.2.0")
package io.zonekeeper.spi;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;

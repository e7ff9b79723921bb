/**
 * The driver SPI: what a hypervisor driver implements so that zone-core can run zones on it. One short
 * interface, {@link io.zonekeeper.spi.HypervisorDriver}; optional abilities are small extra interfaces.
 *
 * <p>1.3: {@link io.zonekeeper.spi.StateLocation}, the state directory as a service;
 * {@link io.zonekeeper.spi.RuntimeRecord#CONSOLE_LOG}; resource providers learn the
 * {@link io.zonekeeper.spi.ChosenDriver}; {@link io.zonekeeper.spi.Feature#OWN_HOST_INTERFACE}.
 */
@Export
@Version("1.3.0")
package io.zonekeeper.spi;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;

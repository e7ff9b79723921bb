package io.zonekeeper.passthrough.bind;

import java.util.Optional;

import io.zonekeeper.passthrough.pci.PciAddress;

/**
 * One endpoint taken for a zone, with what it had before, so that it can be given back exactly.
 *
 * @param address          the endpoint
 * @param originalDriver   the driver it was on before, if any ({@code vfio-pci} when it was there already)
 * @param originalOverride what {@code driver_override} said before, if anything
 */
public record Binding(PciAddress address, Optional<String> originalDriver, Optional<String> originalOverride) {
}

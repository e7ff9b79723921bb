package io.zonekeeper.passthrough;

import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.vfio.Binding;

/** One endpoint held by one zone, with what it was on before the zone took it. */
public record Assignment(String zone, Binding binding) {
    public PciAddress address() {
        return binding.address();
    }
}

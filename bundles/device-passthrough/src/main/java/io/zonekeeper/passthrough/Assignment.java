package io.zonekeeper.passthrough;

import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.bind.Binding;

/** One endpoint held by one zone, with what it was on before the zone took it. */
public record Assignment(ZoneRef zone, Binding binding) {
    public PciAddress address() {
        return binding.address();
    }
}

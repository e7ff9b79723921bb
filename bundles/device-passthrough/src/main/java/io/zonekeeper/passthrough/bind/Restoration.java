package io.zonekeeper.passthrough.bind;

import java.util.Optional;

import io.zonekeeper.passthrough.pci.PciAddress;

/** What a released endpoint is on afterwards, against what it was on before it was taken. */
public record Restoration(PciAddress address, Optional<String> expected, Optional<String> actual) {
    public boolean restored() {
        return expected.equals(actual);
    }

    @Override
    public String toString() {
        String want = expected.orElse("no driver");
        return restored() ? address + " is back on " + want
                : address + " should be on " + want + " but is on " + actual.orElse("no driver")
                        + "; load the driver and run: echo " + address + " > /sys/bus/pci/drivers_probe";
    }
}

package io.zonekeeper.passthrough.pci;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import io.zonekeeper.passthrough.PassthroughException;

/**
 * How this host isolates devices from each other, and so what a zone must take as a whole: an IOMMU group under
 * VFIO (KVM hosts), the functions of one device under Xen, whose dom0 sees no IOMMU groups.
 */
public interface Isolation {
    /** A set of devices that go to a zone together. */
    record Unit(String name, OptionalInt group, List<PciDevice> members) {
        public Unit {
            members = List.copyOf(members);
        }
    }

    /** Why no device can be isolated on this host (the IOMMU is off), or empty when devices can be. */
    Optional<String> unavailable();

    /** The unit the device belongs to; empty when it cannot be isolated at all (no IOMMU group). */
    Optional<Unit> unitOf(PciDevice device) throws PassthroughException;

    /** The driver that holds a device for a guest: {@code vfio-pci}, or {@code pciback} on Xen. */
    String passthroughDriver();

    /** Drivers that do no DMA, so that a device on one may stay in a unit a zone uses (with the passthrough one). */
    Set<String> dmaFreeDrivers();
}

package io.zonekeeper.passthrough.pci;

import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import io.zonekeeper.passthrough.PassthroughException;

/** Isolation by IOMMU group, as VFIO enforces it: the kernel opens a group only when all of it is DMA-free. */
public final class IommuGroups implements Isolation {
    private final PciInventory inventory;

    public IommuGroups(PciInventory inventory) {
        this.inventory = inventory;
    }

    @Override
    public Optional<String> unavailable() {
        if (inventory.iommuEnabled()) {
            return Optional.empty();
        }
        return Optional.of("the IOMMU is off: " + inventory.iommuGroupsDir() + " is empty; enable VT-d or AMD-Vi in "
                + "the firmware and boot with intel_iommu=on (or amd_iommu=on) iommu=pt");
    }

    @Override
    public Optional<Unit> unitOf(PciDevice device) throws PassthroughException {
        if (device.iommuGroup().isEmpty()) {
            return Optional.empty();
        }
        int group = device.iommuGroup().getAsInt();
        return Optional.of(new Unit("IOMMU group " + group, OptionalInt.of(group), inventory.groupDevices(group)));
    }

    @Override
    public String passthroughDriver() {
        return PciInventory.VFIO_PCI;
    }

    @Override
    public Set<String> dmaFreeDrivers() {
        return Set.of(PciInventory.VFIO_PCI, "pci-stub");
    }
}

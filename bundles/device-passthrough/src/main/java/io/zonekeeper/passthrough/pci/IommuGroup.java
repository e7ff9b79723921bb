package io.zonekeeper.passthrough.pci;

import java.util.List;

/**
 * An IOMMU group: the smallest set of devices the IOMMU can isolate from the rest of the host, so the unit that a
 * zone takes as a whole.
 */
public record IommuGroup(int number, List<PciAddress> members) {
    public IommuGroup {
        members = members.stream().sorted().toList();
    }
}

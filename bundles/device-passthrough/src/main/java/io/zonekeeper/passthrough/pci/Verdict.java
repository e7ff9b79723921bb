package io.zonekeeper.passthrough.pci;

import java.util.List;

/**
 * Whether a device can be given to a zone, and why not.
 *
 * @param assignable whether it can
 * @param reason     why not, naming the member of the group that is in the way; when it can, a note for people
 *                   (what else goes with it), possibly empty
 * @param endpoints  when it can: every endpoint of its IOMMU group, which the assignment takes together
 */
public record Verdict(boolean assignable, String reason, List<PciAddress> endpoints) {
    public Verdict {
        endpoints = List.copyOf(endpoints);
    }

    static Verdict refused(String reason) {
        return new Verdict(false, reason, List.of());
    }

    static Verdict assignable(List<PciAddress> endpoints, String note) {
        return new Verdict(true, note, endpoints);
    }
}

package io.zonekeeper.passthrough.pci;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import io.zonekeeper.passthrough.PassthroughException;

/**
 * Decides whether a device can go to a zone. The IOMMU isolates groups, not devices, so a zone takes the whole
 * group: every endpoint in it is bound to vfio-pci together. Bridges in the group are skipped, as the kernel does.
 *
 * <p>Other functions of the same device (a GPU's HDMI audio) are taken along even while they are on their host
 * driver. An endpoint that is a different device, still on a driver that does DMA, is not taken silently: that
 * would pull a host NIC or disk controller away because of a poor grouping. The operator unbinds it first.
 */
public final class GroupViability {
    /** Drivers the kernel accepts in a viable VFIO group besides vfio-pci: they do no DMA. */
    private static final Set<String> DMA_FREE = Set.of(PciInventory.VFIO_PCI, "pci-stub");

    private final PciInventory inventory;
    private final Function<PciAddress, Optional<String>> owners;

    /**
     * @param inventory the host's devices
     * @param owners    which zone holds a device now (the assignment ledger)
     */
    public GroupViability(PciInventory inventory, Function<PciAddress, Optional<String>> owners) {
        this.inventory = inventory;
        this.owners = owners;
    }

    /**
     * Can this device go to the zone?
     *
     * @param address the device asked for
     * @param zone    the zone that asks; {@code null} when nobody asks yet (device:list), so that any holder counts
     * @throws PassthroughException the device is not on this host, or sysfs cannot be read
     */
    public Verdict assess(PciAddress address, String zone) throws PassthroughException {
        if (!inventory.iommuEnabled()) {
            return Verdict.refused("the IOMMU is off: " + inventory.iommuGroupsDir() + " is empty; enable VT-d or "
                    + "AMD-Vi in the firmware and boot with intel_iommu=on (or amd_iommu=on) iommu=pt");
        }
        PciDevice device = inventory.device(address);
        if (device.isBridge()) {
            return Verdict.refused(address + " is a PCI bridge; bridges are not assigned, the devices behind them "
                    + "are");
        }
        if (device.iommuGroup().isEmpty()) {
            return Verdict.refused(address + " has no IOMMU group, so it cannot be isolated from the host");
        }
        int group = device.iommuGroup().getAsInt();
        List<PciDevice> members = inventory.groupDevices(group);
        List<PciAddress> endpoints = new ArrayList<>();
        for (PciDevice member : members) {
            if (member.isBridge()) {
                continue;
            }
            Optional<String> owner = owners.apply(member.address());
            if (owner.isPresent() && !owner.get().equals(zone)) {
                return Verdict.refused(member.address() + " in IOMMU group " + group + " is assigned to zone "
                        + owner.get());
            }
            endpoints.add(member.address());
        }
        for (PciDevice member : members) {
            if (member.isBridge() || member.address().equals(address) || member.address().sameSlot(address)) {
                continue;
            }
            if (member.driver().isPresent() && !DMA_FREE.contains(member.driver().get())) {
                return Verdict.refused(stillOnDriver(member, group) + "; it is another device, not a function of "
                        + address + ", so it is not taken along: unbind it from " + member.driverName()
                        + " first");
            }
        }
        if (!endpoints.contains(address)) {
            // sysfs says the device is in the group, the group does not list it: the tree is changing under us.
            return Verdict.refused(address + " is not listed in IOMMU group " + group + "; read again");
        }
        String along = endpoints.stream().filter(e -> !e.equals(address)).map(PciAddress::toString)
                .collect(Collectors.joining(", "));
        return Verdict.assignable(endpoints, along.isEmpty() ? "" : "takes " + along + " along");
    }

    /**
     * The kernel's rule, as it stands now: a group can be opened through VFIO only when every endpoint in it is on
     * vfio-pci, on a driver that does no DMA, or on none. Checked after binding and before a guest starts.
     */
    public Verdict viableNow(int group) throws PassthroughException {
        List<PciAddress> endpoints = new ArrayList<>();
        for (PciDevice member : inventory.groupDevices(group)) {
            if (member.isBridge()) {
                continue;
            }
            if (member.driver().isPresent() && !DMA_FREE.contains(member.driver().get())) {
                return Verdict.refused(stillOnDriver(member, group));
            }
            endpoints.add(member.address());
        }
        return Verdict.assignable(endpoints, "");
    }

    private static String stillOnDriver(PciDevice member, int group) {
        return member.address() + " (" + member.driverName() + ") in IOMMU group " + group + " is still on its "
                + "driver";
    }
}

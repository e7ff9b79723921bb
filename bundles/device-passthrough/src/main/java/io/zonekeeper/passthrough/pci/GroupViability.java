package io.zonekeeper.passthrough.pci;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.ZoneRef;
import io.zonekeeper.passthrough.pci.Isolation.Unit;

/**
 * Decides whether devices can go to a zone. The IOMMU isolates groups, not devices, so a zone takes the whole unit
 * (an IOMMU group; on Xen the functions of one device): every endpoint in it is bound to the passthrough driver
 * together. Bridges in a group are skipped, as the kernel does.
 *
 * <p>Nothing that does DMA for the host is taken silently. An endpoint of the unit that is still on a driver that
 * does DMA must be named by the zone: another function of the same device (a GPU's HDMI audio) is named beside it,
 * and any other device is unbound by the operator first, so that a poor grouping never pulls a host NIC or disk
 * controller away. Endpoints on no driver or on a driver that does no DMA are taken along. This is the kernel's own
 * rule for a viable group, applied before anything is changed, with the member in the way named.
 */
public final class GroupViability {
    private final PciInventory inventory;
    private final Isolation isolation;
    private final Function<PciAddress, Optional<ZoneRef>> owners;

    /**
     * @param inventory the host's devices
     * @param isolation how this host isolates them
     * @param owners    which zone holds a device now (the assignment ledger)
     */
    public GroupViability(PciInventory inventory, Isolation isolation,
            Function<PciAddress, Optional<ZoneRef>> owners) {
        this.inventory = inventory;
        this.isolation = isolation;
        this.owners = owners;
    }

    /** On a host with IOMMU groups (VFIO). */
    public GroupViability(PciInventory inventory, Function<PciAddress, Optional<ZoneRef>> owners) {
        this(inventory, new IommuGroups(inventory), owners);
    }

    public Isolation isolation() {
        return isolation;
    }

    /**
     * Can this device go to a zone that names the devices {@code named}?
     *
     * @param address the device asked for
     * @param named   every device the zone names (the device itself among them)
     * @param asking  the zone that asks; {@code null} when no zone asks yet (a zone being created, device:list), so
     *                that any holder counts
     * @throws PassthroughException the device is not on this host, or sysfs cannot be read
     */
    public Verdict assess(PciAddress address, Collection<PciAddress> named, ZoneRef asking)
            throws PassthroughException {
        Optional<String> off = isolation.unavailable();
        if (off.isPresent()) {
            return Verdict.refused(off.get());
        }
        PciDevice device = inventory.device(address);
        if (device.isBridge()) {
            return Verdict.refused(address + " is a PCI bridge; bridges are not assigned, the devices behind them "
                    + "are");
        }
        if (device.isChipset()) {
            return Verdict.refused(address + " is a host or ISA bridge, part of the host's chipset; it is never "
                    + "assigned");
        }
        Optional<Unit> found = isolation.unitOf(device);
        if (found.isEmpty()) {
            return Verdict.refused(address + " has no IOMMU group, so it cannot be isolated from the host");
        }
        Unit unit = found.get();
        List<PciAddress> endpoints = new ArrayList<>();
        for (PciDevice member : unit.members()) {
            if (member.isBridge()) {
                continue;
            }
            Optional<ZoneRef> owner = owners.apply(member.address());
            if (owner.isPresent() && (asking == null || !owner.get().id().equals(asking.id()))) {
                return Verdict.refused(member.address() + " in " + unit.name() + " is held by zone "
                        + owner.get().name());
            }
            endpoints.add(member.address());
        }
        for (PciDevice member : unit.members()) {
            if (member.isBridge() || member.address().equals(address) || named.contains(member.address())
                    || !doesDma(member)) {
                continue;
            }
            String driver = member.driverName();
            if (member.address().sameSlot(address)) {
                return Verdict.refused(member.address() + " (" + driver + ") in " + unit.name() + " is still on its "
                        + "driver; it is another function of the same device as " + address + ": name it too, so "
                        + "that both go to the zone together, or unbind it from " + driver + " first");
            }
            return Verdict.refused(member.address() + " (" + driver + ") in " + unit.name() + " is still on its "
                    + "driver; it is another device, not a function of " + address + ", so it is not taken along: "
                    + "unbind it from " + driver + " first");
        }
        if (!endpoints.contains(address)) {
            // sysfs says the device is in the group, the group does not list it: the tree is changing under us.
            return Verdict.refused(address + " is not listed in " + unit.name() + "; read again");
        }
        String along = endpoints.stream().filter(e -> !e.equals(address) && !named.contains(e))
                .map(PciAddress::toString).collect(Collectors.joining(", "));
        return Verdict.assignable(endpoints, along.isEmpty() ? "" : "takes " + along + " along");
    }

    /**
     * For device:list, where no zone names anything yet: the device together with the other functions of its
     * device that a zone must name beside it. The note says which those are, and when the device cannot be reset.
     */
    public Verdict assessAlone(PciAddress address) throws PassthroughException {
        Set<PciAddress> named = new LinkedHashSet<>();
        named.add(address);
        PciDevice device = inventory.device(address);
        Optional<Unit> unit = isolation.unavailable().isEmpty() && !device.isBridge() ? isolation.unitOf(device)
                : Optional.empty();
        List<PciDevice> companions = new ArrayList<>();
        if (unit.isPresent()) {
            for (PciDevice member : unit.get().members()) {
                if (!member.isBridge() && !member.address().equals(address) && member.address().sameSlot(address)
                        && doesDma(member)) {
                    companions.add(member);
                    named.add(member.address());
                }
            }
        }
        Verdict v = assess(address, named, null);
        if (!v.assignable()) {
            return v;
        }
        List<String> notes = new ArrayList<>();
        if (!companions.isEmpty()) {
            notes.add("a zone names it with " + companions.stream().map(c -> c.address() + " (" + c.driverName()
                    + ")").collect(Collectors.joining(", ")));
        }
        if (!v.reason().isEmpty()) {
            notes.add(v.reason());
        }
        if (device.resetMethods().isEmpty()) {
            notes.add("it has no reset method, so a zone finds what the one before it left in the device");
        }
        return new Verdict(true, String.join("; ", notes), v.endpoints());
    }

    /**
     * The kernel's rule, as it stands now: a unit can be opened for a guest only when every endpoint in it is on
     * the passthrough driver, on a driver that does no DMA, or on none. Checked after binding.
     */
    public Verdict viableNow(PciAddress member) throws PassthroughException {
        PciDevice device = inventory.device(member);
        Optional<Unit> found = isolation.unitOf(device);
        if (found.isEmpty()) {
            return Verdict.refused(member + " has no IOMMU group, so it cannot be isolated from the host");
        }
        Unit unit = found.get();
        List<PciAddress> endpoints = new ArrayList<>();
        for (PciDevice d : unit.members()) {
            if (d.isBridge()) {
                continue;
            }
            if (doesDma(d)) {
                return Verdict.refused(d.address() + " (" + d.driverName() + ") in " + unit.name() + " is still on "
                        + "its driver");
            }
            endpoints.add(d.address());
        }
        return Verdict.assignable(endpoints, "");
    }

    private boolean doesDma(PciDevice device) {
        return device.driver().isPresent() && !isolation.dmaFreeDrivers().contains(device.driver().get());
    }
}

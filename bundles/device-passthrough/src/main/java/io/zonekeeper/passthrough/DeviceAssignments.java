package io.zonekeeper.passthrough;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import io.zonekeeper.passthrough.pci.GroupViability;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.pci.Verdict;
import io.zonekeeper.passthrough.vfio.Binding;
import io.zonekeeper.passthrough.vfio.Restoration;
import io.zonekeeper.passthrough.vfio.SysfsWriter;
import io.zonekeeper.passthrough.vfio.VfioBinder;

/**
 * Giving devices to zones and taking them back: the viability check, the binding and the ledger in the order that
 * survives a crash. The ledger is written before the first sysfs write, so that after a crash halfway
 * {@link #reconcile} knows the original drivers; it is cleared only after the devices are back.
 *
 * <p>One change at a time on this host: bindings are quick (well under a second), and two of them interleaved on
 * one IOMMU group would undo each other.
 */
public final class DeviceAssignments {
    private final PciInventory inventory;
    private final VfioBinder binder;
    private final AssignmentLedger ledger;
    private final GroupViability viability;

    public DeviceAssignments(PciInventory inventory, VfioBinder binder, AssignmentLedger ledger) {
        this.inventory = inventory;
        this.binder = binder;
        this.ledger = ledger;
        this.viability = new GroupViability(inventory, ledger::owner);
    }

    /** Everything on the real host: sysfs under the root, the ledger under the state directory. */
    public static DeviceAssignments open(PciInventory inventory, SysfsWriter writer, Path stateDirectory)
            throws PassthroughException {
        VfioBinder binder = new VfioBinder(inventory, writer);
        return new DeviceAssignments(inventory, binder,
                AssignmentLedger.inStateDirectory(stateDirectory, inventory, binder));
    }

    public PciInventory inventory() {
        return inventory;
    }

    public AssignmentLedger ledger() {
        return ledger;
    }

    public GroupViability viability() {
        return viability;
    }

    /**
     * Gives the device, and every other endpoint of its IOMMU group, to the zone: all on vfio-pci and in the
     * ledger, or nothing changed.
     *
     * @return the zone's assignments in that group
     */
    public synchronized List<Assignment> assign(String zone, PciAddress address) throws PassthroughException {
        if (zone == null || zone.isBlank()) {
            throw new IllegalArgumentException("a zone name is required");
        }
        Verdict verdict = viability.assess(address, zone);
        if (!verdict.assignable()) {
            throw new PassthroughException("cannot assign " + address + " to zone " + zone + ": " + verdict.reason());
        }
        List<Binding> bindings = binder.prepare(verdict.endpoints());
        List<PciAddress> added = ledger.record(zone, bindings);
        try {
            binder.bind(bindings);
        } catch (PassthroughException e) {
            forgetAfterFailure(added, e);
            throw e;
        }
        int group = inventory.device(address).iommuGroup().getAsInt();
        Verdict now = viability.viableNow(group);
        if (!now.assignable()) {
            PassthroughException e = new PassthroughException("bound " + address + " and its group to vfio-pci, but "
                    + "the group is not viable: " + now.reason() + "; the devices were given back");
            releaseAfterFailure(bindings, added, e);
            throw e;
        }
        return ledger.ofZone(zone).stream().filter(a -> verdict.endpoints().contains(a.address())).toList();
    }

    /**
     * Gives every device the zone holds back to its original driver and removes them from the ledger.
     *
     * @return per endpoint, whether its original driver came back
     */
    public synchronized List<Restoration> release(String zone) throws PassthroughException {
        List<Binding> held = ledger.ofZone(zone).stream().map(Assignment::binding).toList();
        if (held.isEmpty()) {
            return List.of();
        }
        List<Restoration> restored = binder.release(held);
        ledger.forget(held.stream().map(Binding::address).toList());
        return restored;
    }

    /** See {@link AssignmentLedger#reconcile}. */
    public synchronized ReconcileReport reconcile(Set<String> runningZones) throws PassthroughException {
        return ledger.reconcile(runningZones);
    }

    private void forgetAfterFailure(List<PciAddress> added, PassthroughException failure) {
        try {
            ledger.forget(added);
        } catch (PassthroughException e) {
            failure.addSuppressed(e);
        }
    }

    private void releaseAfterFailure(List<Binding> bindings, List<PciAddress> added, PassthroughException failure) {
        try {
            binder.release(bindings.stream().filter(b -> added.contains(b.address())).toList());
            ledger.forget(added);
        } catch (PassthroughException e) {
            failure.addSuppressed(e);
        }
    }
}

package io.zonekeeper.passthrough;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import io.zonekeeper.passthrough.bind.Binding;
import io.zonekeeper.passthrough.bind.DeviceBinder;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.bind.SysfsWriter;
import io.zonekeeper.passthrough.pci.GroupViability;
import io.zonekeeper.passthrough.pci.IommuGroups;
import io.zonekeeper.passthrough.pci.Isolation;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.pci.Verdict;
import io.zonekeeper.passthrough.vfio.VfioBinder;

/**
 * Giving devices to zones and taking them back: the viability check, the binding and the ledger in the order that
 * survives a crash. The ledger is written before the first change to the host, so that after a crash halfway
 * {@link #reconcile} knows the original drivers; it is cleared only after the devices are back.
 *
 * <p>One change at a time on this host: bindings are quick (well under a second), and two of them interleaved on
 * one IOMMU group would undo each other.
 */
public final class DeviceAssignments {
    private final PciInventory inventory;
    private final DeviceBinder binder;
    private final AssignmentLedger ledger;
    private final GroupViability viability;

    public DeviceAssignments(PciInventory inventory, Isolation isolation, DeviceBinder binder,
            AssignmentLedger ledger) {
        this.inventory = inventory;
        this.binder = binder;
        this.ledger = ledger;
        this.viability = new GroupViability(inventory, isolation, ledger::owner);
    }

    /** On a KVM host: IOMMU groups and vfio-pci. */
    public DeviceAssignments(PciInventory inventory, VfioBinder binder, AssignmentLedger ledger) {
        this(inventory, new IommuGroups(inventory), binder, ledger);
    }

    /** A KVM host: sysfs under the root, vfio-pci, the ledger under the state directory. */
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

    /** What stands in the way of giving these devices to a zone, per device; empty when nothing does. */
    public List<String> problems(List<PciAddress> named, ZoneRef asking) throws PassthroughException {
        List<String> problems = new ArrayList<>();
        for (PciAddress address : named) {
            Verdict v = viability.assess(address, named, asking);
            if (!v.assignable()) {
                problems.add(v.reason());
            }
        }
        return problems;
    }

    /**
     * Gives the named devices, and every other endpoint of their IOMMU groups, to the zone: all on the passthrough
     * driver and in the ledger, or nothing changed.
     *
     * @return the zone's assignments for these devices and the endpoints that went along, in address order
     */
    public synchronized List<Assignment> assign(ZoneRef zone, List<PciAddress> named) throws PassthroughException {
        if (named.isEmpty()) {
            throw new IllegalArgumentException("no device named");
        }
        Set<PciAddress> endpoints = new TreeSet<>();
        for (PciAddress address : named) {
            Verdict verdict = viability.assess(address, named, zone);
            if (!verdict.assignable()) {
                throw new PassthroughException("cannot give " + address + " to zone " + zone.name() + ": "
                        + verdict.reason());
            }
            endpoints.addAll(verdict.endpoints());
        }
        List<Binding> bindings = binder.prepare(List.copyOf(endpoints));
        List<PciAddress> added = ledger.record(zone, bindings);
        try {
            binder.bind(bindings);
        } catch (PassthroughException e) {
            forgetAfterFailure(added, e);
            throw e;
        }
        Set<PciAddress> checked = new LinkedHashSet<>();
        for (PciAddress address : named) {
            if (checked.contains(address)) {
                continue;
            }
            Verdict now = viability.viableNow(address);
            checked.addAll(now.endpoints());
            if (!now.assignable()) {
                PassthroughException e = new PassthroughException("bound " + address + " and the rest of its group "
                        + "for zone " + zone.name() + ", but the group is not viable: " + now.reason()
                        + "; the devices were given back");
                releaseAfterFailure(bindings, added, e);
                throw e;
            }
        }
        return ledger.ofZone(zone.id()).stream().filter(a -> endpoints.contains(a.address())).toList();
    }

    /**
     * Gives every device the zone holds back to its original driver and removes them from the ledger.
     *
     * @return per endpoint, whether its original driver came back
     */
    public synchronized List<Restoration> release(UUID zone) throws PassthroughException {
        List<Binding> held = ledger.ofZone(zone).stream().map(Assignment::binding).toList();
        if (held.isEmpty()) {
            return List.of();
        }
        List<Restoration> restored = binder.release(held);
        ledger.forget(held.stream().map(Binding::address).toList());
        return restored;
    }

    /** See {@link AssignmentLedger#reconcile}. */
    public synchronized ReconcileReport reconcile(Set<UUID> runningZones) throws PassthroughException {
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

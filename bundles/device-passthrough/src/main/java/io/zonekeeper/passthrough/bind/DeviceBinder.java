package io.zonekeeper.passthrough.bind;

import java.util.List;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.pci.PciAddress;

/**
 * Moves endpoints to the hypervisor's passthrough driver and back: vfio-pci through sysfs on a KVM host,
 * xen-pciback through xl on a Xen dom0. Both are transactions: a failure halfway puts back what was changed, and
 * every step looks at the device first, so that a release also finishes a bind that a crash cut short.
 */
public interface DeviceBinder {
    /**
     * Reads what each endpoint is on now and checks that binding can work. Writes nothing.
     *
     * @throws PassthroughException the host cannot pass devices through (the IOMMU is off, the driver is not
     *                              loaded), or an endpoint is missing
     */
    List<Binding> prepare(List<PciAddress> endpoints) throws PassthroughException;

    /** Binds every endpoint to the passthrough driver, or none. */
    void bind(List<Binding> bindings) throws PassthroughException;

    /**
     * Gives every endpoint back to the driver it had before, or none: on a failure halfway the endpoints done so far
     * go back to the passthrough driver, so the zone keeps a whole unit. An endpoint whose driver did not come back
     * is reported in the answer, not thrown: it is no longer held, and the ledger must say so.
     */
    List<Restoration> release(List<Binding> bindings) throws PassthroughException;
}

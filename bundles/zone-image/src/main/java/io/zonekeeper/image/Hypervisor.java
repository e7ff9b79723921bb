package io.zonekeeper.image;

/**
 * The hypervisors whose zones boot the zone init, each with the hooks that are its own (see
 * {@link ZoneInitScript}): how the zone finds its disks, where its console is, how the host powers it off
 * gracefully, and how channels reach the host.
 */
public enum Hypervisor {
    /** QEMU/KVM: virtio devices, ttyS0, the ACPI power button, virtio-serial ports. */
    KVM("zone-init-kvm.sh"),
    /** Xen PV and PVH domains: the xen frontends, hvc0, the kernel's /sbin/poweroff, vchan. */
    XEN("zone-init-xen.sh");

    private final String hooks;

    Hypervisor(String hooks) {
        this.hooks = hooks;
    }

    /** The resource, next to this class, that holds the hooks. */
    String hooksResource() {
        return hooks;
    }
}

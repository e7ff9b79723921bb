package io.zonekeeper.spi;

/** Things a driver may or may not be able to do; see {@link Capabilities}. */
public enum Feature {
    /** Pause and resume a running guest ({@link PausableDriver}). */
    PAUSE,
    /** A console log, and interactive attach through {@link ConsoleAccess}. */
    CONSOLE,
    /** Re-attach to guests that run already, after a restart or an upgrade. */
    ADOPTION,
    /** Named data channels between a zone and the host or another zone. */
    CHANNELS,
    /** PCI and GPU passthrough. */
    PCI_PASSTHROUGH,
    /** Zone network interfaces on a host bridge. */
    NETWORK,
    /** Disk images as block devices. */
    DISK,
    /**
     * The hypervisor makes the host end of each zone network interface itself and puts it on the
     * {@link PreparedNic#bridge()} under the name {@link PreparedNic#tapDevice()} (Xen's netback makes a vif when the
     * domain starts): the appliance leases the address, MAC and name, but makes no tap. Since spi 1.3.
     */
    OWN_HOST_INTERFACE
}

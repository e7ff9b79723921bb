package io.zonekeeper.spi;

/**
 * A zone's network interface as the appliance prepared it on the host, for a driver to render: the tap device
 * already exists and is enslaved to the network's bridge, so the driver only hands it to the hypervisor.
 *
 * @param network   the network's name, as the spec names it
 * @param tapDevice the host tap device (at most 15 characters), owned by the appliance, not by the driver
 * @param bridge    the host bridge the tap is enslaved to (for hypervisors that attach by bridge, such as Xen)
 * @param mac       the guest's MAC address, locally administered, {@code 0a:1b:...} form
 * @param address   the guest's IPv4 address with its prefix length, {@code 10.99.0.5/24}
 * @param gateway   the address of the network's bridge, the guest's default gateway
 */
public record PreparedNic(String network, String tapDevice, String bridge, String mac, String address,
        String gateway) {
}

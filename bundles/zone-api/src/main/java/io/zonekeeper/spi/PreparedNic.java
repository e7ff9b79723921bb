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
 * @param address6  the guest's IPv6 unique local address with its prefix length
 *                  ({@code fd12:3456:789a:0:81b:2cff:fe3d:4e5f/64}), or null when the network has no IPv6 prefix
 *                  (since spi 1.2)
 * @param gateway6  the IPv6 address of the network's bridge ({@code fd12:3456:789a::1}), null exactly when
 *                  {@code address6} is (since spi 1.2)
 */
public record PreparedNic(String network, String tapDevice, String bridge, String mac, String address,
        String gateway, String address6, String gateway6) {

    public PreparedNic {
        if ((address6 == null) != (gateway6 == null)) {
            throw new IllegalArgumentException("address6 and gateway6 are both given or both null");
        }
    }

    /** An interface on a network without IPv6 (what spi 1.1 knew). */
    public PreparedNic(String network, String tapDevice, String bridge, String mac, String address, String gateway) {
        this(network, tapDevice, bridge, mac, address, gateway, null, null);
    }
}

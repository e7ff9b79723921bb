package io.zonekeeper.network.host;

import java.io.IOException;
import java.util.List;
import java.util.Set;

/** The host changes a network needs, each one undoable. {@link IpHost} does them with iproute2 and nftables. */
public interface HostNetwork {
    /**
     * Makes (or fixes up) a bridge with {@code gatewayCidr} on it, up, forwarding IPv4 only when {@code nat}. With
     * {@code gateway6Cidr} the bridge has that IPv6 address too, and nothing that comes in on it is routed to
     * another interface; without, the bridge takes no IPv6 at all. The host takes nothing from the bridge but
     * replies to its own connections and IPv6 neighbour discovery (and ARP).
     */
    void ensureBridge(String bridge, String gatewayCidr, String gateway6Cidr, boolean nat) throws IOException;

    /** Removes the bridge, its taps' pins and whatever {@link #ensureBridge} set up for it. */
    void deleteBridge(String bridge) throws IOException;

    /**
     * Masquerades {@code subnet} leaving by any interface but {@code bridge}. Forwarded packets from this bridge to
     * another zone network's bridge are dropped, and so are those from the {@code uplinks} to any zone network's
     * bridge, unless they belong to a connection a zone opened (established or related).
     */
    void enableNat(String network, String bridge, String subnet, List<String> uplinks) throws IOException;

    void disableNat(String network) throws IOException;

    /** Makes a persistent tap device, enslaves it to {@code bridge} and sets it up. */
    void createTap(String tap, String bridge) throws IOException;

    /**
     * Lets {@code tap} on {@code bridge} send only frames from {@code mac} with the lease's addresses, ARP and
     * neighbour discovery included ({@code ipv6} null: no IPv6 at all). Done again, it replaces the earlier pin.
     */
    void pinTap(String bridge, String tap, String mac, String ipv4, String ipv6) throws IOException;

    /** Removes what {@link #pinTap} made; a tap that was not pinned is not an error. */
    void unpinTap(String bridge, String tap) throws IOException;

    /** Removes the tap; a tap that is not there is not an error. */
    void deleteTap(String tap) throws IOException;

    /** The interfaces of the IPv4 default route(s) of the main table, each once; empty where there is none. */
    List<String> defaultRouteInterfaces() throws IOException;

    /** The interface's IPv4 forwarding switch ({@code "0"} or {@code "1"}), or null where there is no such interface. */
    String forwarding(String iface) throws IOException;

    void setForwarding(String iface, String value) throws IOException;

    /** The names of the host's network interfaces. */
    Set<String> links() throws IOException;
}

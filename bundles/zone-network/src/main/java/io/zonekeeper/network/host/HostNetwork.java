package io.zonekeeper.network.host;

import java.io.IOException;
import java.util.Set;

/** The host changes a network needs, each one undoable. {@link IpHost} does them with iproute2 and nftables. */
public interface HostNetwork {
    /** Makes (or fixes up) a bridge with {@code gatewayCidr} on it, up, forwarding only when {@code nat}. */
    void ensureBridge(String bridge, String gatewayCidr, boolean nat) throws IOException;

    void deleteBridge(String bridge) throws IOException;

    /** Masquerades {@code subnet} leaving by any interface but {@code bridge}. */
    void enableNat(String network, String bridge, String subnet) throws IOException;

    void disableNat(String network) throws IOException;

    /** Makes a persistent tap device, enslaves it to {@code bridge} and sets it up. */
    void createTap(String tap, String bridge) throws IOException;

    /** Removes the tap; a tap that is not there is not an error. */
    void deleteTap(String tap) throws IOException;

    /** The names of the host's network interfaces. */
    Set<String> links() throws IOException;
}

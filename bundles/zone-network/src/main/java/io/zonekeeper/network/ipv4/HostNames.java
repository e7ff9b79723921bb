package io.zonekeeper.network.ipv4;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;

/**
 * Names and MAC addresses derived from what they belong to, so that they are stable across restarts and an orphan
 * can be told apart from a stranger's device: every device of ours starts with {@code zk}. Linux interface names
 * have at most 15 characters.
 */
public final class HostNames {
    public static final int MAX_IFNAME = 15;
    public static final String BRIDGE_PREFIX = "zkb-";
    public static final String TAP_PREFIX = "zkt";

    private HostNames() {
    }

    /** {@code zkb-NAME}, or {@code zkb-} + the first 6 characters + a hash when the name is longer than 11. */
    public static String bridge(String network) {
        String n = BRIDGE_PREFIX + network;
        if (n.length() <= MAX_IFNAME) {
            return n;
        }
        return BRIDGE_PREFIX + network.substring(0, 6) + "-" + digest(network).substring(0, 4);
    }

    /** {@code zkt} + 11 hex digits of the zone id and the network: one tap per zone network. */
    public static String tap(UUID zone, String network) {
        return TAP_PREFIX + digest(zone + "/" + network).substring(0, 11);
    }

    /**
     * A locally administered unicast MAC address (the second-lowest bit of the first octet set, the lowest clear),
     * derived from the zone id and the network.
     */
    public static String mac(UUID zone, String network) {
        byte[] d = HexFormat.of().parseHex(digest("mac/" + zone + "/" + network).substring(0, 12));
        d[0] = (byte) ((d[0] & 0xfc) | 0x02);
        return HexFormat.ofDelimiter(":").formatHex(d);
    }

    private static String digest(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(
                    s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

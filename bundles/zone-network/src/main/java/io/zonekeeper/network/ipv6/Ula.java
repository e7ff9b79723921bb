package io.zonekeeper.network.ipv6;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;

/**
 * A zone network's IPv6 prefix: a unique local /64 (RFC 4193, inside {@code fd00::/8}), held as its upper 64 bits.
 * A /64 because zones get their interface identifier from their MAC address (modified EUI-64, RFC 4291), which
 * takes the lower 64 bits; the gateway is {@code PREFIX::1}, which no EUI-64 identifier can be (those have
 * {@code ff:fe} in the middle). Pure: parses, derives and formats, nothing more.
 */
public record Ula(long prefix) {
    public static final int PREFIX_LENGTH = 64;
    private static final int ULA_BYTE = 0xfd;

    public Ula {
        if ((prefix >>> 56) != ULA_BYTE) {
            throw new IllegalArgumentException(format(prefix, 0) + "/64 is not a unique local prefix (fd00::/8); "
                    + "zone networks take ULA prefixes only, such as fd12:3456:789a::/64, or auto");
        }
    }

    /**
     * Parses {@code fdXX:XXXX:XXXX:XXXX::/64}; the message of the exception says what is wrong (not IPv6, not a
     * /64, not a ULA, host bits set).
     */
    public static Ula parse(String s) {
        if (s == null || s.indexOf('/') < 0) {
            throw new IllegalArgumentException("'" + s + "' is not an IPv6 prefix like fd12:3456:789a::/64");
        }
        int slash = s.indexOf('/');
        long[] a = parseAddress(s.substring(0, slash));
        String len = s.substring(slash + 1);
        if (!len.equals("64")) {
            throw new IllegalArgumentException("'" + s + "': a zone network's IPv6 prefix must be a /64 (zones derive "
                    + "the other 64 bits from their MAC address)");
        }
        if (a[1] != 0) {
            throw new IllegalArgumentException("'" + s + "' has host bits set; did you mean " + format(a[0], 0)
                    + "/64?");
        }
        return new Ula(a[0]);
    }

    /**
     * The prefix for a network with this id when none is given: {@code fd} and a 40-bit global id from a hash of
     * the network id (RFC 4193 asks for a pseudo-random one), subnet id 0. Stable for a network, different across
     * networks and appliances.
     */
    public static Ula fromId(UUID networkId) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(("ula/" + networkId).getBytes(
                    StandardCharsets.UTF_8));
            long globalId = ByteBuffer.wrap(d).getLong() >>> 24; // 40 bits
            return new Ula(((long) ULA_BYTE << 56) | (globalId << 16));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code PREFIX::1/64}: the bridge's address, the zones' IPv6 gateway. */
    public String gatewayCidr() {
        return gateway() + "/" + PREFIX_LENGTH;
    }

    public String gateway() {
        return format(prefix, 1);
    }

    /**
     * The address of the interface with this MAC ({@code 0a:1b:2c:3d:4e:5f}): the prefix and the modified EUI-64
     * identifier (the universal/local bit flipped, {@code ff:fe} in the middle).
     */
    public String address(String mac) {
        return format(prefix, interfaceId(mac));
    }

    /** The link-local address ({@code fe80::/64}) of the interface with this MAC, from the same identifier. */
    public static String linkLocal(String mac) {
        return format(0xfe80L << 48, interfaceId(mac));
    }

    private static long interfaceId(String mac) {
        byte[] m = HexFormat.ofDelimiter(":").parseHex(mac);
        if (m.length != 6) {
            throw new IllegalArgumentException("'" + mac + "' is not a MAC address");
        }
        long id = 0;
        byte[] eui = { (byte) (m[0] ^ 0x02), m[1], m[2], (byte) 0xff, (byte) 0xfe, m[3], m[4], m[5] };
        for (byte b : eui) {
            id = (id << 8) | (b & 0xff);
        }
        return id;
    }

    /** Two /64 prefixes share an address exactly when they are the same. */
    public boolean overlaps(Ula other) {
        return prefix == other.prefix;
    }

    @Override
    public String toString() {
        return format(prefix, 0) + "/" + PREFIX_LENGTH;
    }

    /** Parses an IPv6 address in text form ({@code ::} allowed, no zone, no embedded IPv4) into its two halves. */
    public static long[] parseAddress(String s) {
        String bad = "'" + s + "' is not an IPv6 address";
        if (s == null || s.isEmpty() || s.indexOf("::") != s.lastIndexOf("::") || s.contains(":::")) {
            throw new IllegalArgumentException(bad);
        }
        int gap = s.indexOf("::");
        String[] head = gap < 0 ? s.split(":", -1) : groups(s.substring(0, gap));
        String[] tail = gap < 0 ? new String[0] : groups(s.substring(gap + 2));
        if ((gap < 0 && head.length != 8) || (gap >= 0 && head.length + tail.length > 7)) {
            throw new IllegalArgumentException(bad);
        }
        int[] g = new int[8];
        for (int i = 0; i < head.length; i++) {
            g[i] = group(head[i], bad);
        }
        for (int i = 0; i < tail.length; i++) {
            g[8 - tail.length + i] = group(tail[i], bad);
        }
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 4; i++) {
            hi = (hi << 16) | g[i];
            lo = (lo << 16) | g[i + 4];
        }
        return new long[] { hi, lo };
    }

    private static String[] groups(String part) {
        return part.isEmpty() ? new String[0] : part.split(":", -1);
    }

    private static int group(String hex, String bad) {
        if (hex.isEmpty() || hex.length() > 4 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException(bad);
        }
        return Integer.parseInt(hex, 16);
    }

    /** The RFC 5952 text form: lower case, no leading zeros, the longest run of two or more zero groups as ::. */
    public static String format(long hi, long lo) {
        int[] g = new int[8];
        for (int i = 0; i < 4; i++) {
            g[i] = (int) ((hi >>> (48 - 16 * i)) & 0xffff);
            g[i + 4] = (int) ((lo >>> (48 - 16 * i)) & 0xffff);
        }
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8;) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }
}

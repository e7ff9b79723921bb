package io.zonekeeper.network.ipv4;

/**
 * An IPv4 subnet such as {@code 10.99.0.0/24}. Addresses are ints (unsigned in meaning). Prefixes from /8 to /30
 * only: a zone network needs a gateway and at least one zone address, and /8 is already more than any host holds.
 */
public record Cidr(int network, int prefix) {
    public static final int MIN_PREFIX = 8;
    public static final int MAX_PREFIX = 30;

    public Cidr {
        if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) {
            throw new IllegalArgumentException("prefix /" + prefix + " is out of range /" + MIN_PREFIX + "../"
                    + MAX_PREFIX);
        }
        if ((network & ~mask(prefix)) != 0) {
            throw new IllegalArgumentException(format(network) + "/" + prefix + " has host bits set; did you mean "
                    + format(network & mask(prefix)) + "/" + prefix + "?");
        }
    }

    /** Parses {@code A.B.C.D/P}; the message of the exception says what is wrong. */
    public static Cidr parse(String s) {
        if (s == null || s.indexOf('/') < 0) {
            throw new IllegalArgumentException("'" + s + "' is not a subnet like 10.99.0.0/24");
        }
        int slash = s.indexOf('/');
        int prefix;
        try {
            prefix = Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' has no prefix length after the slash");
        }
        return new Cidr(parseAddress(s.substring(0, slash)), prefix);
    }

    /** Parses a dotted IPv4 address. */
    public static int parseAddress(String s) {
        String[] p = s == null ? new String[0] : s.split("\\.", -1);
        if (p.length != 4) {
            throw new IllegalArgumentException("'" + s + "' is not an IPv4 address");
        }
        int a = 0;
        for (String part : p) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)
                    || (part.length() > 1 && part.charAt(0) == '0')) {
                throw new IllegalArgumentException("'" + s + "' is not an IPv4 address");
            }
            int v = Integer.parseInt(part);
            if (v > 255) {
                throw new IllegalArgumentException("'" + s + "' is not an IPv4 address");
            }
            a = (a << 8) | v;
        }
        return a;
    }

    public static String format(int address) {
        return ((address >>> 24) & 0xff) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "."
                + (address & 0xff);
    }

    static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    public int mask() {
        return mask(prefix);
    }

    public boolean contains(int address) {
        return (address & mask()) == network;
    }

    /** True when the two share an address: one contains the other's network address. */
    public boolean overlaps(Cidr other) {
        Cidr wider = prefix <= other.prefix ? this : other;
        Cidr narrower = wider == this ? other : this;
        return wider.contains(narrower.network);
    }

    public int broadcast() {
        return network | ~mask();
    }

    /** The first host address: the bridge's, which zones use as their gateway. */
    public int gateway() {
        return network + 1;
    }

    /** How many addresses zones can have: all but the network, broadcast and gateway addresses. */
    public int zoneAddresses() {
        return (int) ((1L << (32 - prefix)) - 3);
    }

    /** The {@code i}-th zone address (0-based), after the gateway. */
    public int zoneAddress(int i) {
        return network + 2 + i;
    }

    /** Whether {@code address} is one a zone may have: in the subnet, and not its network, broadcast or gateway. */
    public boolean isZoneAddress(int address) {
        return contains(address) && address != network && address != broadcast() && address != gateway();
    }

    @Override
    public String toString() {
        return format(network) + "/" + prefix;
    }
}

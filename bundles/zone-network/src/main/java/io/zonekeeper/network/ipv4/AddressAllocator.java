package io.zonekeeper.network.ipv4;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.UUID;

/**
 * Picks a zone's address in a subnet. Pure: the leases are given, nothing is stored here. A zone without a fixed
 * address starts its search at a place derived from its id, so that it usually gets the same address every time
 * it starts, though its lease is given back whenever it stops.
 */
public final class AddressAllocator {
    private AddressAllocator() {
    }

    /**
     * The address for {@code zone}.
     *
     * @param leased address to the zone holding it (the zone's own lease, if any, is not in the way)
     * @param fixed  the address the spec asks for, or null
     * @throws IllegalArgumentException saying why, when the fixed address is not possible or the subnet is full
     */
    public static int allocate(Cidr subnet, Map<Integer, String> leased, UUID zone, String zoneName, String fixed) {
        if (fixed != null) {
            int a = Cidr.parseAddress(fixed);
            if (!subnet.contains(a)) {
                throw new IllegalArgumentException(fixed + " is outside subnet " + subnet);
            }
            if (!subnet.isZoneAddress(a)) {
                throw new IllegalArgumentException(fixed + " is the network, broadcast or gateway address of "
                        + subnet);
            }
            String holder = leased.get(a);
            if (holder != null && !holder.equals(zoneName)) {
                throw new IllegalArgumentException(fixed + " is already leased to zone " + holder);
            }
            return a;
        }
        int n = subnet.zoneAddresses();
        int start = Math.floorMod(hash(zone), n);
        for (int i = 0; i < n; i++) {
            int a = subnet.zoneAddress((start + i) % n);
            String holder = leased.get(a);
            if (holder == null || holder.equals(zoneName)) {
                return a;
            }
        }
        throw new IllegalArgumentException("subnet " + subnet + " has no free address (" + n + " leased)");
    }

    private static int hash(UUID zone) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(zone.toString().getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(d).getInt();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

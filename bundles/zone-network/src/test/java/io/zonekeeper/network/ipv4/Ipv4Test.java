package io.zonekeeper.network.ipv4;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

import org.junit.Test;

public class Ipv4Test {
    private static final Cidr A = Cidr.parse("10.99.0.0/24");

    @Test
    public void subnetsOverlapWhenOneHoldsTheOthersNetwork() {
        assertTrue(A.overlaps(Cidr.parse("10.99.0.128/25")));
        assertTrue(Cidr.parse("10.99.0.128/25").overlaps(A));
        assertTrue(A.overlaps(Cidr.parse("10.0.0.0/8")));
        assertFalse(A.overlaps(Cidr.parse("10.99.1.0/24")));
        assertFalse(Cidr.parse("10.99.0.0/25").overlaps(Cidr.parse("10.99.0.128/25")));
    }

    @Test
    public void badSubnetsAreRefusedSayingWhy() {
        for (String[] c : new String[][] { { "10.99.0.1/24", "did you mean 10.99.0.0/24" }, { "10.99.0.0", "like" },
                { "10.99.0.0/31", "out of range" }, { "10.299.0.0/24", "not an IPv4" }, { "10.99.0.0/x", "prefix" },
                { "010.1.0.0/16", "not an IPv4" } }) {
            try {
                Cidr.parse(c[0]);
                fail(c[0]);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(c[1]));
            }
        }
    }

    @Test
    public void gatewayIsTheFirstAddressAndZonesGetTheRest() {
        assertEquals("10.99.0.1", Cidr.format(A.gateway()));
        assertEquals(253, A.zoneAddresses());
        assertEquals("10.99.0.2", Cidr.format(A.zoneAddress(0)));
        assertFalse(A.isZoneAddress(Cidr.parseAddress("10.99.0.255")));
        assertFalse(A.isZoneAddress(Cidr.parseAddress("10.99.0.1")));
    }

    @Test
    public void aZoneGetsTheSameAddressEachTimeAndNeverALeasedOne() {
        UUID z = UUID.randomUUID();
        Map<Integer, String> leased = new HashMap<>();
        int first = AddressAllocator.allocate(A, leased, z, "z", null);
        assertEquals(first, AddressAllocator.allocate(A, leased, z, "z", null));
        assertTrue(A.isZoneAddress(first));
        leased.put(first, "other");
        int second = AddressAllocator.allocate(A, leased, z, "z", null);
        assertNotEquals(first, second);
        assertTrue(A.isZoneAddress(second));
    }

    @Test
    public void aFixedAddressOutsideTheSubnetOrLeasedIsRefused() {
        UUID z = UUID.randomUUID();
        Map<Integer, String> leased = new HashMap<>(Map.of(Cidr.parseAddress("10.99.0.7"), "web"));
        assertEquals(Cidr.parseAddress("10.99.0.8"), AddressAllocator.allocate(A, leased, z, "z", "10.99.0.8"));
        for (String[] c : new String[][] { { "10.99.1.5", "outside subnet 10.99.0.0/24" },
                { "10.99.0.7", "already leased to zone web" }, { "10.99.0.1", "gateway" } }) {
            try {
                AddressAllocator.allocate(A, leased, z, "z", c[0]);
                fail(c[0]);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(c[1]));
            }
        }
    }

    @Test
    public void aFullSubnetSaysSo() {
        Cidr tiny = Cidr.parse("10.99.0.0/30");
        Map<Integer, String> leased = Map.of(tiny.zoneAddress(0), "a");
        try {
            AddressAllocator.allocate(tiny, leased, UUID.randomUUID(), "b", null);
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no free address"));
        }
    }

    @Test
    public void macsAreLocallyAdministeredUnicastAndStablePerZoneAndNetwork() {
        UUID z = UUID.randomUUID();
        String mac = HostNames.mac(z, "a");
        assertTrue(mac, mac.matches("([0-9a-f]{2}:){5}[0-9a-f]{2}"));
        int first = Integer.parseInt(mac.substring(0, 2), 16);
        assertEquals("locally administered", 2, first & 2);
        assertEquals("unicast", 0, first & 1);
        assertEquals(mac, HostNames.mac(z, "a"));
        assertNotEquals(mac, HostNames.mac(z, "b"));
        assertNotEquals(mac, HostNames.mac(UUID.randomUUID(), "a"));
    }

    @Test
    public void deviceNamesFitInFifteenCharacters() {
        assertEquals("zkb-a", HostNames.bridge("a"));
        assertEquals("zkb-abcdefghijk", HostNames.bridge("abcdefghijk"));
        String longName = HostNames.bridge("a-rather-long-network-name");
        assertEquals(15, longName.length());
        assertTrue(longName.startsWith("zkb-a-rath-"));
        assertNotEquals(longName, HostNames.bridge("a-rather-long-network-name2"));
        String tap = HostNames.tap(UUID.randomUUID(), "a-rather-long-network-name");
        assertEquals(14, tap.length());
        assertTrue(tap.startsWith("zkt"));
    }
}

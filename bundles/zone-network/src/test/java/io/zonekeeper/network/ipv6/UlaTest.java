package io.zonekeeper.network.ipv6;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.UUID;

import org.junit.Test;

public class UlaTest {
    @Test
    public void textFollowsRfc5952() {
        assertEquals("2001:db8::1", Ula.format(0x20010db800000000L, 1));
        assertEquals("2001:db8:0:1:1:1:1:1", Ula.format(0x20010db800000001L, 0x0001000100010001L));
        assertEquals("2001:0:0:1::1", Ula.format(0x2001000000000001L, 1));
        assertEquals("2001:db8::1:0:0:1", Ula.format(0x20010db800000000L, 0x0001000000000001L));
        assertEquals("::1", Ula.format(0, 1));
        assertEquals("::", Ula.format(0, 0));
        assertEquals("fd12:3456:789a::", Ula.format(0xfd123456789a0000L, 0));
    }

    @Test
    public void addressesParseWithOrWithoutTheGap() {
        long[] a = Ula.parseAddress("FD12:3456:789a:0000:0:0:0:1");
        assertEquals(0xfd123456789a0000L, a[0]);
        assertEquals(1L, a[1]);
        long[] b = Ula.parseAddress("fd12:3456:789a::1");
        assertEquals(a[0], b[0]);
        assertEquals(a[1], b[1]);
        for (String bad : new String[] { "", "fd12", "fd12:::1", "fd12::1::2", "fd12:3456:789a:0:0:0:0:0:1",
                "fd12::g", "fd12::12345", "fd12::1.2.3.4", "fd12::1%eth0", "1:2:3:4:5:6:7" }) {
            try {
                Ula.parseAddress(bad);
                fail("'" + bad + "' must not parse");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("is not an IPv6 address"));
            }
        }
    }

    @Test
    public void prefixesAreUniqueLocalSlash64sAndTheErrorSaysWhy() {
        Ula u = Ula.parse("fd12:3456:789a::/64");
        assertEquals("fd12:3456:789a::/64", u.toString());
        assertEquals("fd12:3456:789a::1", u.gateway());
        assertEquals("fd12:3456:789a::1/64", u.gatewayCidr());
        refused("2001:db8::/64", "is not a unique local prefix (fd00::/8)");
        refused("fc00::/64", "is not a unique local prefix");
        refused("fd12:3456::/48", "must be a /64");
        refused("fd12:3456:789a::/80", "must be a /64");
        refused("fd12:3456:789a::5/64", "has host bits set; did you mean fd12:3456:789a::/64?");
        refused("fd12:3456:789a::", "is not an IPv6 prefix");
        refused("auto6", "is not an IPv6 prefix");
        refused("fd12:zz::/64", "is not an IPv6 address");
    }

    private static void refused(String prefix, String why) {
        try {
            Ula.parse(prefix);
            fail(prefix + " must be refused: " + why);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(why));
        }
    }

    @Test
    public void anInterfaceGetsTheModifiedEui64OfItsMac() {
        Ula u = Ula.parse("fd00:1:2:3::/64");
        // RFC 4291 appendix A: the universal/local bit flipped, ff:fe inserted.
        assertEquals("fd00:1:2:3:5054:ff:fe12:3456", u.address("52:54:00:12:34:56"));
        // Our MACs are locally administered (0x02 set), so their identifiers have it clear.
        assertEquals("fd00:1:2:3:81b:2cff:fe3d:4e5f", u.address("0a:1b:2c:3d:4e:5f"));
        assertNotEquals(u.gateway(), u.address("00:00:00:00:00:01"));
    }

    @Test
    public void anAutomaticPrefixIsAStableUlaPerNetworkId() {
        UUID id = UUID.randomUUID();
        Ula a = Ula.fromId(id);
        assertEquals(a, Ula.fromId(id));
        assertEquals(a, Ula.parse(a.toString()));
        assertTrue(a.toString(), a.toString().startsWith("fd"));
        assertEquals("subnet id 0", 0, a.prefix() & 0xffff);
        assertNotEquals(a, Ula.fromId(UUID.randomUUID()));
    }
}

package io.zonekeeper.passthrough.pci;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class PciAddressTest {

    @Test
    public void refusesBdfWithPathCharacters() {
        for (String bad : new String[] {"../0000:01:00.0", "0000:01:00.0/../../../etc", "0000:01:00.0/",
            "/sys/bus/pci/devices/0000:01:00.0", "..", "0000:01:00.0\\x"}) {
            IllegalArgumentException e = assertThrows(bad, IllegalArgumentException.class, () -> PciAddress.parse(bad));
            assertTrue(e.getMessage(), e.getMessage().contains("path characters"));
            assertTrue(e.getMessage(), e.getMessage().contains("0000:01:00.0"));
        }
    }

    @Test
    public void refusesWhatIsNotAFullAddress() {
        for (String bad : new String[] {"", " ", "01:00.0", "0000:01:00", "0000:1:00.0", "0000:01:00.8",
            "0000:01:20.0", "0000:01:00.0 ", "0000:0g:00.0", "0000:01:00.0\n"}) {
            IllegalArgumentException e = assertThrows("'" + bad + "'", IllegalArgumentException.class,
                    () -> PciAddress.parse(bad));
            assertTrue(e.getMessage(), e.getMessage().contains("such as 0000:01:00.0")
                    || e.getMessage().contains("at most 1f"));
        }
        assertThrows(IllegalArgumentException.class, () -> PciAddress.parse(null));
    }

    @Test
    public void readsAndWritesTheSysfsForm() {
        PciAddress a = PciAddress.parse("0000:9A:1f.7");
        assertEquals(new PciAddress(0, 0x9a, 0x1f, 7), a);
        assertEquals("0000:9a:1f.7", a.toString());
        assertEquals("10000:e0:00.0", PciAddress.parse("10000:e0:00.0").toString());
    }

    @Test
    public void functionsOfOneDeviceShareASlot() {
        assertTrue(PciAddress.parse("0000:01:00.0").sameSlot(PciAddress.parse("0000:01:00.1")));
        assertFalse(PciAddress.parse("0000:01:00.0").sameSlot(PciAddress.parse("0000:01:01.0")));
        assertFalse(PciAddress.parse("0000:01:00.0").sameSlot(PciAddress.parse("0001:01:00.0")));
    }

    @Test
    public void ordersByDomainBusDeviceFunction() {
        assertTrue(PciAddress.parse("0000:01:00.1").compareTo(PciAddress.parse("0000:02:00.0")) < 0);
        assertTrue(PciAddress.parse("0000:01:00.1").compareTo(PciAddress.parse("0000:01:00.0")) > 0);
    }
}

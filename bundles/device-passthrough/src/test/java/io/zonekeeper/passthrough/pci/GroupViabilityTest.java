package io.zonekeeper.passthrough.pci;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.fixture.SysfsFixture;

public class GroupViabilityTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final Map<PciAddress, String> owners = new HashMap<>();
    private SysfsFixture fixture;

    private GroupViability machine(String name) throws Exception {
        fixture = SysfsFixture.build(name, tmp.getRoot().toPath());
        return new GroupViability(new PciInventory(fixture.root()), a -> Optional.ofNullable(owners.get(a)));
    }

    private static PciAddress bdf(String text) {
        return PciAddress.parse(text);
    }

    @Test
    public void h100PcieIsAssignableAlone() throws Exception {
        Verdict v = machine("h100-pcie").assess(bdf("0000:17:00.0"), "ml");
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:17:00.0")), v.endpoints());
        assertEquals("", v.reason());
    }

    @Test
    public void eachSxmGpuAndNvswitchIsAssignableOnItsOwn() throws Exception {
        GroupViability viability = machine("h100-sxm");
        for (String device : List.of("0000:18:00.0", "0000:9a:00.0", "0000:05:00.0", "0000:06:00.0")) {
            Verdict v = viability.assess(bdf(device), "ml");
            assertTrue(device + ": " + v.reason(), v.assignable());
            assertEquals(List.of(bdf(device)), v.endpoints());
        }
    }

    @Test
    public void gpuTakesItsHdmiAudioFunctionAlongButNotItsRootPort() throws Exception {
        Verdict v = machine("consumer-gpu").assess(bdf("0000:01:00.0"), "gaming");
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1")), v.endpoints());
        assertEquals("takes 0000:01:00.1 along", v.reason());
    }

    @Test
    public void refusesGroupWhileAudioFunctionIsOnItsDriver() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        // The lab's case: the GPU function is on vfio-pci, its audio function still on snd_hda_intel.
        fixture.setDriver("0000:01:00.0", Optional.of("vfio-pci"));
        Verdict v = viability.viableNow(14);
        assertFalse(v.assignable());
        assertEquals("0000:01:00.1 (snd_hda_intel) in IOMMU group 14 is still on its driver", v.reason());
    }

    @Test
    public void groupIsViableOnceEveryEndpointIsOnVfioOrStub() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        fixture.setDriver("0000:01:00.0", Optional.of("vfio-pci"));
        fixture.setDriver("0000:01:00.1", Optional.of("pci-stub"));
        Verdict v = viability.viableNow(14);
        assertTrue(v.reason(), v.assignable());
        assertEquals("the root port (pcieport) is a bridge and does not count",
                List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1")), v.endpoints());
    }

    @Test
    public void refusesDeviceWhoseGroupIsSharedWithAnotherDeviceOnItsDriver() throws Exception {
        Verdict v = machine("consumer-gpu").assess(bdf("0000:05:00.0"), "router");
        assertFalse(v.assignable());
        assertTrue(v.reason(), v.reason().startsWith(
                "0000:06:00.0 (ahci) in IOMMU group 17 is still on its driver; it is another device"));
        assertTrue(v.reason(), v.reason().endsWith("unbind it from ahci first"));
        assertEquals(List.of(), v.endpoints());
    }

    @Test
    public void sharedGroupIsTakenWholeOnceTheOtherDeviceIsOnPciStub() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        fixture.setDriver("0000:06:00.0", Optional.of("pci-stub"));
        Verdict v = viability.assess(bdf("0000:05:00.0"), "router");
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:05:00.0"), bdf("0000:06:00.0")), v.endpoints());
    }

    @Test
    public void driverlessDeviceIsAssignable() throws Exception {
        Verdict v = machine("consumer-gpu").assess(bdf("0000:04:00.0"), "build");
        assertTrue(v.reason(), v.assignable());
    }

    @Test
    public void refusesBridge() throws Exception {
        Verdict v = machine("consumer-gpu").assess(bdf("0000:00:01.0"), "gaming");
        assertFalse(v.assignable());
        assertEquals("0000:00:01.0 is a PCI bridge; bridges are not assigned, the devices behind them are",
                v.reason());
    }

    @Test
    public void refusesEverythingWhileTheIommuIsOff() throws Exception {
        Verdict v = machine("no-iommu").assess(bdf("0000:01:00.0"), "gaming");
        assertFalse(v.assignable());
        assertTrue(v.reason(), v.reason().startsWith("the IOMMU is off"));
        assertTrue(v.reason(), v.reason().contains("intel_iommu=on"));
    }

    @Test
    public void refusesGroupWhoseAudioFunctionIsHeldByAnotherZone() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        owners.put(bdf("0000:01:00.1"), "db");
        Verdict v = viability.assess(bdf("0000:01:00.0"), "gaming");
        assertFalse(v.assignable());
        assertEquals("0000:01:00.1 in IOMMU group 14 is assigned to zone db", v.reason());
        assertFalse("device:list asks for nobody: any holder counts",
                viability.assess(bdf("0000:01:00.0"), null).assignable());
        assertTrue("the zone that holds it may ask again", viability.assess(bdf("0000:01:00.0"), "db").assignable());
    }

    @Test
    public void unknownDeviceIsAnError() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        assertThrows(PassthroughException.class, () -> viability.assess(bdf("0000:77:00.0"), "gaming"));
    }
}

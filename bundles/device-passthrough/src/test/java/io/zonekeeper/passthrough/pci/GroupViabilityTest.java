package io.zonekeeper.passthrough.pci;

import static io.zonekeeper.passthrough.fixture.TestZones.zone;
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
import io.zonekeeper.passthrough.ZoneRef;
import io.zonekeeper.passthrough.fixture.SysfsFixture;

public class GroupViabilityTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final Map<PciAddress, ZoneRef> owners = new HashMap<>();
    private SysfsFixture fixture;

    private GroupViability machine(String name) throws Exception {
        fixture = SysfsFixture.build(name, tmp.newFolder().toPath());
        return new GroupViability(new PciInventory(fixture.root()), a -> Optional.ofNullable(owners.get(a)));
    }

    private static PciAddress bdf(String text) {
        return PciAddress.parse(text);
    }

    private static Verdict alone(GroupViability viability, String device, String zone) throws Exception {
        return viability.assess(bdf(device), List.of(bdf(device)), zone(zone));
    }

    @Test
    public void h100PcieIsAssignableAlone() throws Exception {
        Verdict v = alone(machine("h100-pcie"), "0000:17:00.0", "ml");
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:17:00.0")), v.endpoints());
        assertEquals("", v.reason());
    }

    @Test
    public void eachSxmGpuAndNvswitchIsAssignableOnItsOwn() throws Exception {
        GroupViability viability = machine("h100-sxm");
        for (String device : List.of("0000:18:00.0", "0000:9a:00.0", "0000:05:00.0", "0000:06:00.0")) {
            Verdict v = alone(viability, device, "ml");
            assertTrue(device + ": " + v.reason(), v.assignable());
            assertEquals(List.of(bdf(device)), v.endpoints());
        }
    }

    @Test
    public void gpuGoesWithItsHdmiAudioFunctionWhenBothAreNamedButNotWithItsRootPort() throws Exception {
        Verdict v = machine("consumer-gpu").assess(bdf("0000:01:00.0"),
                List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1")), zone("gaming"));
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1")), v.endpoints());
        assertEquals("", v.reason());
    }

    @Test
    public void refusesTheGpuAloneWhileItsAudioFunctionIsOnItsDriverAndNamesIt() throws Exception {
        Verdict v = alone(machine("consumer-gpu"), "0000:01:00.0", "gaming");
        assertFalse(v.assignable());
        assertEquals("0000:01:00.1 (snd_hda_intel) in IOMMU group 14 is still on its driver; it is another function "
                + "of the same device as 0000:01:00.0: name it too, so that both go to the zone together, or unbind it "
                + "from snd_hda_intel first", v.reason());
    }

    @Test
    public void gpuTakesItsDriverlessAudioFunctionAlong() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        fixture.setDriver("0000:01:00.1", Optional.empty());
        Verdict v = alone(viability, "0000:01:00.0", "gaming");
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1")), v.endpoints());
        assertEquals("takes 0000:01:00.1 along", v.reason());
    }

    @Test
    public void refusesGroupWhileAudioFunctionIsOnItsDriver() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        // The lab's case: the GPU function is on vfio-pci, its audio function still on snd_hda_intel.
        fixture.setDriver("0000:01:00.0", Optional.of("vfio-pci"));
        Verdict v = viability.viableNow(bdf("0000:01:00.0"));
        assertFalse(v.assignable());
        assertEquals("0000:01:00.1 (snd_hda_intel) in IOMMU group 14 is still on its driver", v.reason());
    }

    @Test
    public void groupIsViableOnceEveryEndpointIsOnVfioOrStub() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        fixture.setDriver("0000:01:00.0", Optional.of("vfio-pci"));
        fixture.setDriver("0000:01:00.1", Optional.of("pci-stub"));
        Verdict v = viability.viableNow(bdf("0000:01:00.1"));
        assertTrue(v.reason(), v.assignable());
        assertEquals("the root port (pcieport) is a bridge and does not count",
                List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1")), v.endpoints());
    }

    @Test
    public void refusesDeviceWhoseGroupIsSharedWithAnotherDeviceOnItsDriver() throws Exception {
        Verdict v = alone(machine("consumer-gpu"), "0000:05:00.0", "router");
        assertFalse(v.assignable());
        assertTrue(v.reason(), v.reason().startsWith(
                "0000:06:00.0 (ahci) in IOMMU group 17 is still on its driver; it is another device"));
        assertTrue(v.reason(), v.reason().endsWith("unbind it from ahci first"));
        assertEquals(List.of(), v.endpoints());
    }

    @Test
    public void anotherDeviceOfTheGroupMayAlsoBeNamed() throws Exception {
        Verdict v = machine("consumer-gpu").assess(bdf("0000:05:00.0"),
                List.of(bdf("0000:05:00.0"), bdf("0000:06:00.0")), zone("router"));
        assertTrue(v.reason(), v.assignable());
    }

    @Test
    public void sharedGroupIsTakenWholeOnceTheOtherDeviceIsOnPciStub() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        fixture.setDriver("0000:06:00.0", Optional.of("pci-stub"));
        Verdict v = alone(viability, "0000:05:00.0", "router");
        assertTrue(v.reason(), v.assignable());
        assertEquals(List.of(bdf("0000:05:00.0"), bdf("0000:06:00.0")), v.endpoints());
    }

    @Test
    public void driverlessDeviceIsAssignable() throws Exception {
        Verdict v = alone(machine("consumer-gpu"), "0000:04:00.0", "build");
        assertTrue(v.reason(), v.assignable());
    }

    @Test
    public void refusesBridgeAndChipset() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        Verdict v = alone(viability, "0000:00:01.0", "gaming");
        assertFalse(v.assignable());
        assertEquals("0000:00:01.0 is a PCI bridge; bridges are not assigned, the devices behind them are",
                v.reason());
        v = alone(viability, "0000:00:00.0", "gaming");
        assertFalse(v.assignable());
        assertEquals("0000:00:00.0 is a host or ISA bridge, part of the host's chipset; it is never assigned",
                v.reason());
    }

    @Test
    public void refusesEverythingWhileTheIommuIsOff() throws Exception {
        Verdict v = alone(machine("no-iommu"), "0000:01:00.0", "gaming");
        assertFalse(v.assignable());
        assertTrue(v.reason(), v.reason().startsWith("the IOMMU is off"));
        assertTrue(v.reason(), v.reason().contains("intel_iommu=on"));
    }

    @Test
    public void refusesGroupWhoseAudioFunctionIsHeldByAnotherZone() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        owners.put(bdf("0000:01:00.1"), zone("db"));
        List<PciAddress> both = List.of(bdf("0000:01:00.0"), bdf("0000:01:00.1"));
        Verdict v = viability.assess(bdf("0000:01:00.0"), both, zone("gaming"));
        assertFalse(v.assignable());
        assertEquals("0000:01:00.1 in IOMMU group 14 is held by zone db", v.reason());
        assertFalse("a zone being created asks as nobody: any holder counts",
                viability.assess(bdf("0000:01:00.0"), both, null).assignable());
        assertTrue("the zone that holds it may ask again",
                viability.assess(bdf("0000:01:00.0"), both, zone("db")).assignable());
    }

    @Test
    public void listingNamesTheFunctionsAZoneTakesTogetherAndAMissingReset() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        Verdict gpu = viability.assessAlone(bdf("0000:01:00.0"));
        assertTrue(gpu.reason(), gpu.assignable());
        assertEquals("a zone names it with 0000:01:00.1 (snd_hda_intel)", gpu.reason());
        Verdict audio = viability.assessAlone(bdf("0000:01:00.1"));
        assertEquals("a zone names it with 0000:01:00.0 (nvidia); it has no reset method, so a zone finds what the "
                + "one before it left in the device", audio.reason());
        Verdict sxm = machine("h100-sxm").assessAlone(bdf("0000:9a:00.0"));
        assertTrue(sxm.reason(), sxm.reason().contains("no reset method"));
    }

    @Test
    public void unknownDeviceIsAnError() throws Exception {
        GroupViability viability = machine("consumer-gpu");
        assertThrows(PassthroughException.class, () -> alone(viability, "0000:77:00.0", "gaming"));
    }

    @Test
    public void everyGpuOfEveryFixtureIsAssignableWhateverItsResetAndNumaNode() throws Exception {
        for (String name : List.of("h100-pcie", "h100-sxm", "consumer-gpu", "consumer-workstation", "vfio-lab-guest")) {
            GroupViability viability = machine(name);
            PciInventory inventory = new PciInventory(fixture.root());
            for (PciDevice d : inventory.devices()) {
                if (!d.isGpu()) {
                    continue;
                }
                Verdict v = viability.assessAlone(d.address());
                assertTrue(name + " " + d.address() + ": " + v.reason(), v.assignable());
                assertEquals(name + " " + d.address() + ": " + v.reason(), d.resetMethods().isEmpty(),
                        v.reason().contains("no reset method"));
            }
        }
    }

    @Test
    public void inTheLabGuestTheEduBehindThePciBridgeIsRefusedForTheAudioDeviceBesideIt() throws Exception {
        GroupViability viability = machine("vfio-lab-guest");
        Verdict v = alone(viability, "0000:04:01.0", "lab");
        assertFalse(v.assignable());
        assertEquals("0000:04:02.0 (snd_hda_intel) in IOMMU group 9 is still on its driver; it is another device, not "
                + "a function of 0000:04:01.0, so it is not taken along: unbind it from snd_hda_intel first",
                v.reason());
        Verdict bochs = alone(viability, "0000:01:00.0", "lab");
        assertFalse(bochs.assignable());
        assertTrue(bochs.reason(), bochs.reason().startsWith("0000:01:00.1 (snd_hda_intel) in IOMMU group 7"));
        Verdict edu = alone(viability, "0000:02:00.0", "lab");
        assertTrue(edu.reason(), edu.assignable());
        assertFalse("the ISA bridge is the chipset", alone(viability, "0000:00:1f.0", "lab").assignable());
    }
}

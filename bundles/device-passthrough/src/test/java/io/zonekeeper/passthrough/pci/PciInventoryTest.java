package io.zonekeeper.passthrough.pci;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.fixture.SysfsFixture;

public class PciInventoryTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private PciInventory machine(String name) throws Exception {
        return new PciInventory(SysfsFixture.build(name, tmp.getRoot().toPath()).root());
    }

    @Test
    public void h100PcieIsReadAsA3dControllerOnNvidia() throws Exception {
        PciInventory host = machine("h100-pcie");
        assertTrue("fixture entries are symlinks, as in real sysfs",
                Files.isSymbolicLink(host.deviceDir(PciAddress.parse("0000:17:00.0"))));
        PciDevice gpu = host.device("0000:17:00.0");
        assertEquals(0x10de, gpu.vendor());
        assertEquals(0x2331, gpu.device());
        assertEquals("10de:2331", gpu.vendorDevice());
        assertEquals("0x030200", gpu.classHex());
        assertTrue(gpu.isGpu());
        assertFalse(gpu.isBridge());
        assertEquals(Optional.of("nvidia"), gpu.driver());
        assertEquals(OptionalInt.of(14), gpu.iommuGroup());
        assertEquals(List.of("flr", "bus"), gpu.resetMethods());
        assertEquals(0, gpu.numaNode());
        assertEquals(Optional.empty(), gpu.driverOverride());
        assertTrue(host.iommuEnabled());
    }

    @Test
    public void sxmBoardIsReadFromPlainFoldersWithItsResetAndNumaVariants() throws Exception {
        PciInventory host = machine("h100-sxm");
        assertFalse(Files.isSymbolicLink(host.deviceDir(PciAddress.parse("0000:18:00.0"))));
        PciDevice gpu0 = host.device("0000:18:00.0");
        PciDevice gpu1 = host.device("0000:9a:00.0");
        PciDevice nvswitch = host.device("0000:05:00.0");
        assertEquals("10de:2330", gpu0.vendorDevice());
        assertEquals(List.of("bus"), gpu0.resetMethods());
        assertEquals(List.of(), gpu1.resetMethods());
        assertEquals(1, gpu1.numaNode());
        assertEquals(-1, nvswitch.numaNode());
        assertEquals("10de:22a3", nvswitch.vendorDevice());
        assertFalse("an NVSwitch is a bridge-class device (0x0680), not a GPU", nvswitch.isGpu());
        assertFalse(nvswitch.isBridge());
        assertEquals(OptionalInt.of(30), nvswitch.iommuGroup());
        assertEquals(8, host.devices().size());
        assertEquals(List.of(PciAddress.parse("0000:9a:00.0")), host.group(21).members());
    }

    @Test
    public void consumerGpuSharesItsGroupWithItsAudioFunctionAndRootPort() throws Exception {
        PciInventory host = machine("consumer-gpu");
        assertEquals(List.of(PciAddress.parse("0000:00:01.0"), PciAddress.parse("0000:01:00.0"),
                PciAddress.parse("0000:01:00.1")), host.group(14).members());
        PciDevice rootPort = host.device("0000:00:01.0");
        assertTrue(rootPort.isBridge());
        PciDevice audio = host.device("0000:01:00.1");
        assertEquals(Optional.of("snd_hda_intel"), audio.driver());
        assertFalse(audio.isGpu());
        assertTrue(host.device("0000:01:00.0").isGpu());
        assertEquals(Optional.empty(), host.device("0000:04:00.0").driver());
    }

    @Test
    public void devicesAreListedInAddressOrder() throws Exception {
        List<PciDevice> devices = machine("consumer-gpu").devices();
        assertEquals(9, devices.size());
        for (int i = 1; i < devices.size(); i++) {
            assertTrue(devices.get(i - 1).address().compareTo(devices.get(i).address()) < 0);
        }
    }

    @Test
    public void machineWithoutIommuHasNoGroups() throws Exception {
        PciInventory host = machine("no-iommu");
        assertFalse(host.iommuEnabled());
        assertEquals(OptionalInt.empty(), host.device("0000:01:00.0").iommuGroup());
    }

    @Test
    public void unknownDeviceIsReportedWithWhereItWasLookedFor() throws Exception {
        PciInventory host = machine("h100-pcie");
        PassthroughException e = assertThrows(PassthroughException.class, () -> host.device("0000:42:00.0"));
        assertTrue(e.getMessage(), e.getMessage().startsWith("no PCI device 0000:42:00.0 in "));
    }

    @Test
    public void refusesBdfWithPathCharactersBeforeTouchingAnyFile() throws Exception {
        PciInventory host = machine("h100-pcie");
        // Something a traversal would find: a folder that looks like a device, outside bus/pci/devices.
        Path decoy = host.root().resolve("bus/pci/evil");
        Files.createDirectories(decoy);
        Files.writeString(decoy.resolve("vendor"), "0x10de\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> host.device("../evil"));
        assertTrue(e.getMessage(), e.getMessage().contains("path characters"));
    }

    private record Variant(String machine, String bdf, List<String> reset, int numa) {
    }

    @Test
    public void everyFamilyIsReadWithEachResetMethodVariantAndNumaNode() throws Exception {
        List<Variant> variants = List.of(
                new Variant("h100-pcie", "0000:17:00.0", List.of("flr", "bus"), 0),
                new Variant("h100-pcie", "0000:ca:00.0", List.of("bus"), 1),
                new Variant("h100-pcie", "0000:31:00.0", List.of(), -1),
                new Variant("h100-sxm", "0000:3b:00.0", List.of("flr", "bus"), 0),
                new Variant("h100-sxm", "0000:18:00.0", List.of("bus"), 0),
                new Variant("h100-sxm", "0000:9a:00.0", List.of(), 1),
                new Variant("h100-sxm", "0000:07:00.0", List.of("flr", "bus"), 1),
                new Variant("h100-sxm", "0000:06:00.0", List.of("bus"), 0),
                new Variant("h100-sxm", "0000:05:00.0", List.of(), -1),
                new Variant("consumer-gpu", "0000:01:00.0", List.of("bus"), -1),
                new Variant("consumer-gpu", "0000:01:00.1", List.of(), -1),
                new Variant("consumer-workstation", "0000:01:00.0", List.of("flr", "bus"), 0),
                new Variant("consumer-workstation", "0000:01:00.1", List.of("flr"), 0),
                new Variant("consumer-workstation", "0000:81:00.0", List.of(), 1),
                new Variant("vfio-lab-guest", "0000:03:00.0", List.of("pm", "bus"), -1));
        for (Variant v : variants) {
            PciDevice d = new PciInventory(SysfsFixture.build(v.machine(), tmp.newFolder().toPath()).root())
                    .device(v.bdf());
            assertEquals(v.toString(), v.reset(), d.resetMethods());
            assertEquals(v.toString(), v.numa(), d.numaNode());
        }
    }

    @Test
    public void theLabGuestsDevicesAreWhatTheKernelShowed() throws Exception {
        PciInventory host = machine("vfio-lab-guest");
        PciDevice bochs = host.device("0000:01:00.0");
        assertTrue("bochs-display is class 0x0380, a display controller", bochs.isGpu());
        assertEquals(Optional.of("bochs-drm"), bochs.driver());
        assertTrue(host.device("0000:00:00.0").isChipset());
        assertTrue(host.device("0000:00:1f.0").isChipset());
        assertTrue(host.device("0000:03:00.0").isBridge());
        assertEquals(List.of(PciAddress.parse("0000:03:00.0"), PciAddress.parse("0000:04:01.0"),
                PciAddress.parse("0000:04:02.0")), host.group(9).members());
    }
}

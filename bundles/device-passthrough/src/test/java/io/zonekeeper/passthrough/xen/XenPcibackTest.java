package io.zonekeeper.passthrough.xen;

import static io.zonekeeper.passthrough.fixture.TestZones.zone;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.passthrough.AssignmentLedger;
import io.zonekeeper.passthrough.DeviceAssignments;
import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.PciDeviceBackend;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.fixture.FakeZones;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.spi.DeviceBackend.IndexedDevice;
import io.zonekeeper.spi.PreparedDevice;

/** On a Xen dom0 the toolstack moves devices: the commands, in order, and what a failure halfway undoes. */
public class XenPcibackTest {
    private static final PciAddress GPU = PciAddress.parse("0000:01:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:01:00.1");
    private static final String IOMMU_ON = "host : dom0\nvirt_caps              : pv hvm hvm_directio pv_directio "
            + "hap shadow\nxen_version : 4.17.5\n";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private SysfsFixture fixture;
    private XenPciback xen;
    private final List<String> commands = new ArrayList<>();
    private final Map<String, Optional<String>> keptByXl = new HashMap<>();
    private String info = IOMMU_ON;
    private String failOn;

    /** xl as this fixture's toolstack: add moves to pciback and keeps the driver, remove -r gives it back. */
    private CommandRunner.Result xl(List<String> command) throws IOException {
        String line = String.join(" ", command);
        commands.add(line);
        if (failOn != null && line.contains(failOn)) {
            failOn = null;
            return new CommandRunner.Result(1, "libxl: error: injected failure\n");
        }
        String bdf = command.get(command.size() - 1);
        switch (command.get(1)) {
            case "info" -> {
                return new CommandRunner.Result(0, info);
            }
            case "pci-assignable-add" -> {
                if (!fixture.driverOf(bdf).equals(Optional.of("pciback"))) {
                    keptByXl.put(bdf, fixture.driverOf(bdf));
                    fixture.setDriver(bdf, Optional.of("pciback"));
                }
            }
            case "pci-assignable-remove" -> {
                assertEquals("-r", command.get(2));
                if (fixture.driverOf(bdf).equals(Optional.of("pciback"))) {
                    fixture.setDriver(bdf, keptByXl.getOrDefault(bdf, Optional.empty()));
                }
            }
            default -> throw new AssertionError("unexpected " + line);
        }
        return new CommandRunner.Result(0, "");
    }

    private DeviceAssignments dom0() throws Exception {
        fixture = SysfsFixture.build("xen-dom0", tmp.newFolder().toPath());
        PciInventory inventory = new PciInventory(fixture.root());
        xen = new XenPciback(inventory, this::xl, "xl", fixture.kernel());
        Path state = tmp.newFolder("state").toPath();
        return new DeviceAssignments(inventory, xen, xen, AssignmentLedger.inStateDirectory(state, inventory, xen));
    }

    @Test
    public void assignAndReleaseRunXlInOrder() throws Exception {
        DeviceAssignments host = dom0();
        Map<String, String> before = fixture.snapshot();
        host.assign(zone("gaming"), List.of(GPU, AUDIO));
        assertEquals(Optional.of("pciback"), fixture.driverOf(GPU));
        assertEquals(Optional.of("pciback"), fixture.driverOf(AUDIO));
        assertEquals("Xen's IOMMU is set at boot: asked once", 1, commands.stream().filter(c -> c.equals("xl info"))
                .count());
        List<String> adds = commands.stream().filter(c -> !c.equals("xl info")).toList();
        assertEquals(List.of("xl pci-assignable-add 0000:01:00.0", "xl pci-assignable-add 0000:01:00.1"), adds);
        commands.clear();

        List<Restoration> back = host.release(zone("gaming").id());
        assertEquals(List.of("xl pci-assignable-remove -r 0000:01:00.0", "xl pci-assignable-remove -r 0000:01:00.1"),
                commands);
        assertTrue(back.toString(), back.stream().allMatch(Restoration::restored));
        assertEquals(before, fixture.snapshot());
    }

    @Test
    public void aFailedAddUndoesTheOnesBefore() throws Exception {
        DeviceAssignments host = dom0();
        Map<String, String> before = fixture.snapshot();
        failOn = "pci-assignable-add 0000:01:00.1";
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(zone("gaming"), List.of(GPU, AUDIO)));
        assertEquals(List.of("xl pci-assignable-add 0000:01:00.0", "xl pci-assignable-add 0000:01:00.1",
                "xl pci-assignable-remove -r 0000:01:00.0"),
                commands.stream().filter(c -> !c.equals("xl info")).toList());
        assertTrue(e.getMessage(), e.getMessage().contains("rolled back: xl pci-assignable-remove -r 0000:01:00.0"));
        assertTrue(e.getMessage(), e.getMessage().contains("libxl: error: injected failure"));
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), host.ledger().all());
    }

    @Test
    public void aFailedRemoveKeepsTheZonesWholeDevice() throws Exception {
        DeviceAssignments host = dom0();
        host.assign(zone("gaming"), List.of(GPU, AUDIO));
        commands.clear();
        failOn = "pci-assignable-remove -r 0000:01:00.1";
        assertThrows(PassthroughException.class, () -> host.release(zone("gaming").id()));
        assertEquals(List.of("xl pci-assignable-remove -r 0000:01:00.0", "xl pci-assignable-remove -r 0000:01:00.1",
                "xl pci-assignable-add 0000:01:00.0"), commands);
        assertEquals(Optional.of("pciback"), fixture.driverOf(GPU));
        assertEquals(2, host.ledger().ofZone(zone("gaming").id()).size());
    }

    @Test
    public void theFunctionsOfOneDeviceGoTogetherAndTheAudioOneMustBeNamed() throws Exception {
        DeviceAssignments host = dom0();
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(zone("gaming"), List.of(GPU)));
        assertTrue(e.getMessage(), e.getMessage().contains("0000:01:00.1 (snd_hda_intel) in device 0000:01:00 is still"
                + " on its driver; it is another function of the same device as 0000:01:00.0: name it too"));
        assertEquals(List.of("xl info"), commands);
    }

    @Test
    public void nothingIsAssignedWhileXensIommuIsOff() throws Exception {
        DeviceAssignments host = dom0();
        info = "virt_caps              : pv hvm hap shadow\n";
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(zone("gaming"), List.of(GPU, AUDIO)));
        assertTrue(e.getMessage(), e.getMessage().contains("Xen's IOMMU is off (xl info: virt_caps pv hvm hap shadow)"));
        assertFalse(commands.stream().anyMatch(c -> c.contains("assignable")));
    }

    @Test
    public void withoutPcibackNothingIsChanged() throws Exception {
        DeviceAssignments host = dom0();
        Files.walk(fixture.root().resolve("bus/pci/drivers/pciback")).sorted(Comparator.reverseOrder())
                .forEach(p -> p.toFile().delete());
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(zone("gaming"), List.of(GPU, AUDIO)));
        assertTrue(e.getMessage(), e.getMessage().contains("modprobe xen-pciback"));
        assertFalse(commands.stream().anyMatch(c -> c.contains("assignable")));
    }

    @Test
    public void theBackendRendersPcibackDevicesWithoutIommuGroupOrPcieNeed() throws Exception {
        DeviceAssignments host = dom0();
        FakeZones zones = new FakeZones().put("gaming", ZoneState.DEFINED);
        PciDeviceBackend backend = new PciDeviceBackend(host, zones, PciDeviceBackend.Mode.XEN);
        List<PreparedDevice> devices = backend.prepare(zone("gaming").id(), "gaming", tmp.getRoot().toPath(),
                List.of(new IndexedDevice(0, DeviceSpec.pci(GPU.toString())),
                        new IndexedDevice(1, DeviceSpec.pci(AUDIO.toString()))));
        assertEquals(Map.of("host", "0000:01:00.0", "slot", "0000:01:00", "multifunction", "true"),
                devices.get(0).attributes());
        assertTrue(devices.get(0).needs().isEmpty());
    }

    @Test
    public void dom0IsToldByProcXenCapabilities() throws Exception {
        Path caps = tmp.newFile("capabilities").toPath();
        Files.writeString(caps, "control_d\n");
        assertTrue(XenPciback.isDom0(caps));
        Files.writeString(caps, "\n");
        assertFalse("a domU", XenPciback.isDom0(caps));
        assertFalse("no Xen at all", XenPciback.isDom0(tmp.getRoot().toPath().resolve("missing")));
    }
}

package io.zonekeeper.passthrough;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.passthrough.fixture.FakeKernel;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.vfio.Restoration;

public class DeviceAssignmentsTest {
    private static final PciAddress GPU = PciAddress.parse("0000:01:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:01:00.1");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private SysfsFixture fixture;
    private FakeKernel kernel;
    private Path state;

    private DeviceAssignments machine(String name) throws Exception {
        fixture = SysfsFixture.build(name, tmp.newFolder().toPath());
        kernel = fixture.kernel();
        state = tmp.newFolder("state").toPath();
        return DeviceAssignments.open(new PciInventory(fixture.root()), kernel, state);
    }

    @Test
    public void gpuGoesToAZoneWithItsAudioFunctionAndComesBack() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        List<Assignment> taken = host.assign("gaming", GPU);
        assertEquals(List.of(GPU, AUDIO), taken.stream().map(Assignment::address).toList());
        assertEquals(Optional.of("snd_hda_intel"), taken.get(1).binding().originalDriver());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO.toString()));
        assertTrue(host.viability().viableNow(14).assignable());

        List<Restoration> back = host.release("gaming");
        assertTrue(back.toString(), back.stream().allMatch(Restoration::restored));
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), host.ledger().all());
    }

    @Test
    public void h100PcieGoesToAZoneAlone() throws Exception {
        DeviceAssignments host = machine("h100-pcie");
        List<Assignment> taken = host.assign("ml", PciAddress.parse("0000:17:00.0"));
        assertEquals(1, taken.size());
        assertEquals(Optional.of("igb"), fixture.driverOf("0000:18:00.0"));
    }

    @Test
    public void refusesDeviceWhoseGroupAnotherZoneHolds() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        host.assign("gaming", GPU);
        int writes = kernel.writes().size();
        PassthroughException e = assertThrows(PassthroughException.class, () -> host.assign("render", AUDIO));
        assertEquals("cannot assign 0000:01:00.1 to zone render: 0000:01:00.0 in IOMMU group 14 is assigned to "
                + "zone gaming", e.getMessage());
        assertEquals(writes, kernel.writes().size());
    }

    @Test
    public void failedBindLeavesNeitherHostNorLedgerChanged() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        kernel.failAtWrite(5);
        assertThrows(PassthroughException.class, () -> host.assign("gaming", GPU));
        assertEquals(List.of(), host.ledger().all());
        Map<String, String> after = fixture.snapshot();
        after.keySet().removeIf(k -> k.startsWith("..")); // the state folder is not under the sysfs root anyway
        assertEquals(before, after);
    }

    @Test
    public void refusesWithoutIommuAndChangesNothing() throws Exception {
        DeviceAssignments host = machine("no-iommu");
        PassthroughException e = assertThrows(PassthroughException.class, () -> host.assign("gaming", GPU));
        assertTrue(e.getMessage(), e.getMessage().startsWith("cannot assign 0000:01:00.0 to zone gaming: the IOMMU is off"));
        assertEquals(List.of(), kernel.writes());
        assertEquals(List.of(), host.ledger().all());
    }
}

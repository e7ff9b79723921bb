package io.zonekeeper.passthrough;

import static io.zonekeeper.passthrough.fixture.TestZones.zone;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.bind.SysfsWriter;
import io.zonekeeper.passthrough.fixture.FakeKernel;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.vfio.VfioBinder;

public class DeviceAssignmentsTest {
    private static final PciAddress GPU = PciAddress.parse("0000:01:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:01:00.1");
    private static final ZoneRef GAMING = zone("gaming");

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
        List<Assignment> taken = host.assign(GAMING, List.of(GPU, AUDIO));
        assertEquals(List.of(GPU, AUDIO), taken.stream().map(Assignment::address).toList());
        assertEquals(Optional.of("snd_hda_intel"), taken.get(1).binding().originalDriver());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO.toString()));
        assertTrue(host.viability().viableNow(GPU).assignable());

        List<Restoration> back = host.release(GAMING.id());
        assertTrue(back.toString(), back.stream().allMatch(Restoration::restored));
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), host.ledger().all());
    }

    @Test
    public void h100PcieGoesToAZoneAlone() throws Exception {
        DeviceAssignments host = machine("h100-pcie");
        List<Assignment> taken = host.assign(zone("ml"), List.of(PciAddress.parse("0000:17:00.0")));
        assertEquals(1, taken.size());
        assertEquals(Optional.of("igb"), fixture.driverOf("0000:18:00.0"));
    }

    @Test
    public void refusesDeviceWhoseGroupAnotherZoneHolds() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        host.assign(GAMING, List.of(GPU, AUDIO));
        int writes = kernel.writes().size();
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(zone("render"), List.of(AUDIO)));
        assertEquals("cannot give 0000:01:00.1 to zone render: 0000:01:00.0 in IOMMU group 14 is held by zone gaming",
                e.getMessage());
        assertEquals(writes, kernel.writes().size());
    }

    @Test
    public void failedBindLeavesNeitherHostNorLedgerChanged() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        kernel.failAtWrite(5);
        assertThrows(PassthroughException.class, () -> host.assign(GAMING, List.of(GPU, AUDIO)));
        assertEquals(List.of(), host.ledger().all());
        Map<String, String> after = fixture.snapshot();
        after.keySet().removeIf(k -> k.startsWith("..")); // the state folder is not under the sysfs root anyway
        assertEquals(before, after);
    }

    @Test
    public void refusesWithoutIommuAndChangesNothing() throws Exception {
        DeviceAssignments host = machine("no-iommu");
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(GAMING, List.of(GPU, AUDIO)));
        assertTrue(e.getMessage(), e.getMessage().startsWith("cannot give 0000:01:00.0 to zone gaming: the IOMMU is "
                + "off"));
        assertEquals(List.of(), kernel.writes());
        assertEquals(List.of(), host.ledger().all());
    }

    @Test
    public void refusesTheGpuAloneWhileItsAudioFunctionIsOnItsDriverAndNamesIt() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        PassthroughException e = assertThrows(PassthroughException.class, () -> host.assign(GAMING, List.of(GPU)));
        assertEquals("cannot give 0000:01:00.0 to zone gaming: 0000:01:00.1 (snd_hda_intel) in IOMMU group 14 is still"
                + " on its driver; it is another function of the same device as 0000:01:00.0: name it too, so that"
                + " both go to the zone together, or unbind it from snd_hda_intel first", e.getMessage());
        assertEquals(List.of(), kernel.writes());
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), host.ledger().all());
    }

    @Test
    public void gpuAloneGoesOnceItsAudioFunctionHasNoDriverAndTakesItAlong() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        fixture.setDriver(AUDIO.toString(), Optional.empty());
        List<Assignment> taken = host.assign(GAMING, List.of(GPU));
        assertEquals(List.of(GPU, AUDIO), taken.stream().map(Assignment::address).toList());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO));
        host.release(GAMING.id());
        assertEquals("it goes back to no driver, as it was", Optional.empty(), fixture.driverOf(AUDIO));
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
    }

    @Test
    public void theLedgerIsWrittenBeforeTheFirstChangeToTheHost() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        // The kernel looks at the ledger on the first write, as a crash right after it would leave things.
        List<String> seen = new ArrayList<>();
        SysfsWriter watching = (attribute, value) -> {
            if (seen.isEmpty()) {
                seen.add(Files.readString(AssignmentLedger.fileIn(state)));
            }
            kernel.write(attribute, value);
        };
        VfioBinder binder = new VfioBinder(host.inventory(), watching);
        DeviceAssignments watched = new DeviceAssignments(host.inventory(), binder,
                AssignmentLedger.inStateDirectory(state, host.inventory(), binder));
        watched.assign(GAMING, List.of(GPU, AUDIO));
        assertEquals(1, seen.size());
        assertTrue(seen.get(0), seen.get(0).contains("\"0000:01:00.0\"") && seen.get(0).contains("\"0000:01:00.1\"")
                && seen.get(0).contains("\"originalDriver\":\"snd_hda_intel\""));
    }

    @Test
    public void twoGroupsGoInOneTransactionAndAFailureInTheSecondUndoesTheFirst() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        PciAddress edu = PciAddress.parse("0000:04:00.0");
        Map<String, String> before = fixture.snapshot();
        kernel.failOn("drivers_probe <- " + edu);
        assertThrows(PassthroughException.class, () -> host.assign(GAMING, List.of(GPU, AUDIO, edu)));
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), host.ledger().all());
        List<Assignment> taken = host.assign(GAMING, List.of(GPU, AUDIO, edu));
        assertEquals(List.of(GPU, AUDIO, edu), taken.stream().map(Assignment::address).toList());
    }

    @Test
    public void aZoneCreatedAgainUnderTheSameNameIsAnotherZone() throws Exception {
        DeviceAssignments host = machine("consumer-gpu");
        host.assign(GAMING, List.of(GPU, AUDIO));
        ZoneRef again = new ZoneRef(UUID.randomUUID(), "gaming");
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> host.assign(again, List.of(GPU, AUDIO)));
        assertTrue(e.getMessage(), e.getMessage().endsWith("is held by zone gaming"));
        assertEquals(List.of(), host.release(again.id()));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(GPU));
    }

    @Test
    public void theLabGuestsGpuLikePairGoesToVfioAndBackToBochsAndSndHdaIntel() throws Exception {
        DeviceAssignments host = machine("vfio-lab-guest");
        Map<String, String> before = fixture.snapshot();
        host.assign(GAMING, List.of(GPU, AUDIO));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(GPU));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO));
        host.release(GAMING.id());
        assertEquals(Optional.of("bochs-drm"), fixture.driverOf(GPU));
        assertEquals(Optional.of("snd_hda_intel"), fixture.driverOf(AUDIO));
        assertEquals(before, fixture.snapshot());
    }

    @Test
    public void anH100ThatWasOnVfioPciBeforeStaysThereAfterTheZone() throws Exception {
        DeviceAssignments host = machine("h100-pcie");
        PciAddress early = PciAddress.parse("0000:31:00.0");
        host.assign(zone("ml"), List.of(early));
        assertEquals(List.of(), kernel.writes());
        List<Restoration> back = host.release(zone("ml").id());
        assertTrue(back.toString(), back.get(0).restored());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(early));
        assertEquals(List.of(), kernel.writes());
    }
}

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
import java.util.Set;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.passthrough.fixture.FakeKernel;
import io.zonekeeper.passthrough.fixture.FakeZones;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.spi.DeviceBackend.IndexedDevice;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;

/** The pci device backend as zone-core calls it: validate at create, prepare at start, release when a guest ends. */
public class PciDeviceBackendTest {
    private static final String GPU = "0000:01:00.0";
    private static final String AUDIO = "0000:01:00.1";
    private static final String EDU = "0000:04:00.0";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private SysfsFixture fixture;
    private FakeKernel kernel;
    private Path state;
    private final FakeZones zones = new FakeZones();

    private PciDeviceBackend machine(String name) throws Exception {
        fixture = SysfsFixture.build(name, tmp.newFolder().toPath());
        kernel = fixture.kernel();
        state = tmp.newFolder("state").toPath();
        return restarted();
    }

    /** A new backend on the same host and state directory: what the next appliance sees. */
    private PciDeviceBackend restarted() throws Exception {
        return new PciDeviceBackend(DeviceAssignments.open(new PciInventory(fixture.root()), kernel, state), zones,
                PciDeviceBackend.Mode.VFIO);
    }

    private static List<IndexedDevice> pci(String... addresses) {
        List<IndexedDevice> devices = new ArrayList<>();
        for (int i = 0; i < addresses.length; i++) {
            devices.add(new IndexedDevice(i, DeviceSpec.pci(addresses[i])));
        }
        return devices;
    }

    private PreparedDevice prepare(PciDeviceBackend backend, String zone, String... addresses) throws Exception {
        zones.put(zone, ZoneState.DEFINED);
        return backend.prepare(zone(zone).id(), zone, tmp.getRoot().toPath(), pci(addresses)).get(0);
    }

    @Test
    public void validateAcceptsTheGpuWithItsAudioFunctionAndChangesNothing() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        assertEquals(List.of(), backend.validate(pci(GPU, AUDIO)));
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), kernel.writes());
        assertTrue("validate writes no ledger", !Files.exists(AssignmentLedger.fileIn(state)));
    }

    @Test
    public void validateNamesEveryBrokenFieldAndWhy() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        List<FieldError> errors = backend.validate(List.of(
                new IndexedDevice(0, DeviceSpec.pci("0000:42:00.0")),
                new IndexedDevice(1, DeviceSpec.pci(GPU)),
                new IndexedDevice(2, DeviceSpec.pci("0000:05:00.0")),
                new IndexedDevice(3, DeviceSpec.pci("0000:00:01.0")),
                new IndexedDevice(4, DeviceSpec.pci("0000:04:00.0/..")),
                new IndexedDevice(5, DeviceSpec.pci(GPU))));
        assertEquals(List.of(
                "devices[4].address: '0000:04:00.0/..' is not a PCI address: it contains path characters; give "
                        + "domain:bus:device.function, such as 0000:01:00.0",
                "devices[5].address: 0000:01:00.0 is named twice (also in devices[1].address)",
                "devices[0].address: no PCI device 0000:42:00.0 on this host; device:list shows the devices it has",
                "devices[1].address: 0000:01:00.1 (snd_hda_intel) in IOMMU group 14 is still on its driver; it is "
                        + "another function of the same device as 0000:01:00.0: name it too, so that both go to the "
                        + "zone together, or unbind it from snd_hda_intel first",
                "devices[2].address: 0000:06:00.0 (ahci) in IOMMU group 17 is still on its driver; it is another "
                        + "device, not a function of 0000:05:00.0, so it is not taken along: unbind it from ahci first",
                "devices[3].address: 0000:00:01.0 is a PCI bridge; bridges are not assigned, the devices behind them "
                        + "are"),
                errors.stream().map(FieldError::toString).toList());
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), kernel.writes());
    }

    @Test
    public void validateRefusesADeviceAnotherZoneHoldsAndNamesTheHolder() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        prepare(backend, "gpu-a", GPU, AUDIO);
        int writes = kernel.writes().size();
        List<FieldError> errors = backend.validate(pci(AUDIO, GPU));
        assertEquals("devices[0].address: 0000:01:00.0 in IOMMU group 14 is held by zone gpu-a",
                errors.get(0).toString());
        assertEquals(writes, kernel.writes().size());
    }

    @Test
    public void prepareBindsTheWholeGroupAndRendersBothFunctionsOfTheSlot() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        zones.put("gaming", ZoneState.DEFINED);
        List<PreparedDevice> devices = backend.prepare(zone("gaming").id(), "gaming", tmp.getRoot().toPath(),
                pci(GPU, AUDIO, EDU));
        assertEquals(List.of("hostpci-0000-01-00-0", "hostpci-0000-01-00-1", "hostpci-0000-04-00-0"),
                devices.stream().map(PreparedDevice::id).toList());
        assertEquals(Map.of("host", GPU, "slot", "0000:01:00", "multifunction", "true", "group", "14"),
                devices.get(0).attributes());
        assertEquals(Map.of("host", AUDIO, "slot", "0000:01:00", "multifunction", "true", "group", "14"),
                devices.get(1).attributes());
        assertEquals(Map.of("host", EDU, "slot", "0000:04:00", "multifunction", "false", "group", "16"),
                devices.get(2).attributes());
        assertTrue(devices.stream().allMatch(d -> d.type().equals("pci") && d.needs().equals(Set.of(PlatformNeed.PCIE))));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(GPU));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(EDU));
    }

    @Test
    public void aDriverlessCompanionFunctionIsRenderedBesideTheNamedOne() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        fixture.setDriver(AUDIO, Optional.empty());
        zones.put("gaming", ZoneState.DEFINED);
        List<PreparedDevice> devices = backend.prepare(zone("gaming").id(), "gaming", tmp.getRoot().toPath(),
                pci(GPU));
        assertEquals(List.of(GPU, AUDIO), devices.stream().map(d -> d.attribute("host")).toList());
        assertEquals("true", devices.get(0).attribute("multifunction"));
    }

    @Test
    public void releaseGivesTheOriginalDriversBack() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        prepare(backend, "gaming", GPU, AUDIO);
        backend.release(zone("gaming").id(), "gaming");
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), backend.host().ledger().all());
        backend.release(zone("gaming").id(), "gaming");
        assertEquals("a second release changes nothing", before, fixture.snapshot());
    }

    @Test
    public void aFailedPrepareLeavesTheHostAsItWas() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        kernel.failOn("drivers_probe <- " + EDU);
        zones.put("gaming", ZoneState.DEFINED);
        ZoneException e = assertThrows(ZoneException.class, () -> backend.prepare(zone("gaming").id(), "gaming",
                tmp.getRoot().toPath(), pci(GPU, AUDIO, EDU)));
        assertTrue(e.getMessage(), e.getMessage().contains("rolled back"));
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), backend.host().ledger().all());
    }

    @Test
    public void preparingAgainFirstGivesBackWhatTheZoneHeld() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        prepare(backend, "gaming", GPU, AUDIO);
        prepare(backend, "gaming", EDU);
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
        assertEquals(Optional.of("snd_hda_intel"), fixture.driverOf(AUDIO));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(EDU));
        assertEquals(1, backend.host().ledger().ofZone(zone("gaming").id()).size());
    }

    @Test
    public void afterACrashBetweenBindAndStartTheNextApplianceGivesTheDevicesBack() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        prepare(backend, "gaming", GPU, AUDIO);
        // kill -9 here: zone-core never stored the zone as STARTING, so it is still DEFINED.
        ReconcileReport report = restarted().reconcile();
        assertEquals(report.toString(), 2, report.with(ReconcileReport.Outcome.RESTORED).size());
        assertEquals(before, fixture.snapshot());
        assertEquals(List.of(), restarted().host().ledger().all());
    }

    @Test
    public void afterARestartTheDevicesOfARunningZoneStay() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        prepare(backend, "gaming", GPU, AUDIO);
        prepare(backend, "build", EDU);
        zones.put("gaming", ZoneState.RUNNING);
        zones.remove("build"); // destroyed while no backend was there
        ReconcileReport report = restarted().reconcile();
        assertEquals(2, report.with(ReconcileReport.Outcome.KEPT).size());
        assertEquals(1, report.with(ReconcileReport.Outcome.RESTORED).size());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(GPU));
        assertEquals(Optional.empty(), fixture.driverOf(EDU));
        assertEquals(List.of(), restarted().orphans(Set.of(zone("gaming").id())));
    }

    @Test
    public void orphansAreReportedNotReleased() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        prepare(backend, "gaming", GPU, AUDIO);
        int writes = kernel.writes().size();
        List<String> orphans = backend.orphans(Set.of());
        assertEquals(2, orphans.size());
        assertTrue(orphans.get(1), orphans.get(1).startsWith("0000:01:00.1 is held for zone gaming ("));
        assertTrue(orphans.get(1), orphans.get(1).endsWith("it was on snd_hda_intel before; device:release gaming "
                + "gives it back"));
        assertEquals(writes, kernel.writes().size());
    }

    @Test
    public void byHandAZoneMustExistAndARunningZoneKeepsItsDevices() throws Exception {
        PciDeviceBackend backend = machine("consumer-gpu");
        ZoneException e = assertThrows(ZoneException.class,
                () -> backend.assignByHand("nope", List.of(PciAddress.parse(EDU))));
        assertTrue(e.getMessage(), e.getMessage().startsWith("no zone nope"));
        zones.put("build", ZoneState.RUNNING);
        backend.assignByHand("build", List.of(PciAddress.parse(EDU)));
        e = assertThrows(ZoneException.class, () -> backend.releaseByHand("build"));
        assertTrue(e.getMessage(), e.getMessage().startsWith("zone build is RUNNING and its guest has the devices open"));
        zones.put("build", ZoneState.STOPPED);
        assertTrue(backend.releaseByHand("build").get(0).restored());
        e = assertThrows(ZoneException.class, () -> backend.releaseByHand("build"));
        assertEquals("zone build holds no pci device", e.getMessage());
    }
}

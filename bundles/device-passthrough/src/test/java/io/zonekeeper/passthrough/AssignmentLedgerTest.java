package io.zonekeeper.passthrough;

import static io.zonekeeper.passthrough.fixture.TestZones.zone;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.passthrough.ReconcileReport.Outcome;
import io.zonekeeper.passthrough.bind.Binding;
import io.zonekeeper.passthrough.fixture.FakeKernel;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.vfio.VfioBinder;

public class AssignmentLedgerTest {
    private static final PciAddress GPU = PciAddress.parse("0000:01:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:01:00.1");
    private static final PciAddress EDU = PciAddress.parse("0000:04:00.0");
    private static final ZoneRef GAMING = zone("gaming");
    private static final ZoneRef RENDER = zone("render");
    private static final ZoneRef BUILD = zone("build");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private SysfsFixture fixture;
    private FakeKernel kernel;
    private PciInventory inventory;
    private VfioBinder binder;
    private Path state;

    @Before
    public void consumerMachine() throws Exception {
        fixture = SysfsFixture.build("consumer-gpu", tmp.newFolder().toPath());
        kernel = fixture.kernel();
        inventory = new PciInventory(fixture.root());
        binder = new VfioBinder(inventory, kernel);
        state = tmp.newFolder("state").toPath();
    }

    /** A new ledger on the same file: what a restarted JVM sees. */
    private AssignmentLedger reopen() throws Exception {
        return AssignmentLedger.inStateDirectory(state, inventory, binder);
    }

    private static Binding nvidia(PciAddress a) {
        return new Binding(a, Optional.of("nvidia"), Optional.empty());
    }

    @Test
    public void ledgerNeverGivesOneDeviceToTwoZones() throws Exception {
        AssignmentLedger ledger = reopen();
        ledger.record(GAMING, List.of(nvidia(GPU)));
        String onDisk = Files.readString(ledger.file());
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> ledger.record(RENDER, List.of(nvidia(EDU), nvidia(GPU))));
        assertEquals("0000:01:00.0 is already held by zone gaming; a device is never in two zones: release it "
                + "there first", e.getMessage());
        assertEquals("nothing of the refused request is written", onDisk, Files.readString(ledger.file()));
        assertEquals(Optional.empty(), ledger.owner(EDU));
        assertEquals(Optional.of(GAMING), reopen().owner(GPU));
    }

    @Test
    public void zoneThatAsksAgainKeepsTheOriginalDriverItHadFirst() throws Exception {
        AssignmentLedger ledger = reopen();
        assertEquals(List.of(GPU), ledger.record(GAMING, List.of(nvidia(GPU))));
        assertEquals(List.of(), ledger.record(GAMING,
                List.of(new Binding(GPU, Optional.of("vfio-pci"), Optional.of("vfio-pci")))));
        assertEquals(Optional.of("nvidia"), reopen().ofZone(GAMING.id()).get(0).binding().originalDriver());
    }

    @Test
    public void ledgerSurvivesARestartWithEverythingItNeedsToGiveDevicesBack() throws Exception {
        reopen().record(GAMING, List.of(nvidia(GPU),
                new Binding(AUDIO, Optional.of("snd_hda_intel"), Optional.empty()),
                new Binding(EDU, Optional.empty(), Optional.of("pci-stub"))));
        AssignmentLedger again = reopen();
        assertEquals(List.of(
                new Assignment(GAMING, nvidia(GPU)),
                new Assignment(GAMING, new Binding(AUDIO, Optional.of("snd_hda_intel"), Optional.empty())),
                new Assignment(GAMING, new Binding(EDU, Optional.empty(), Optional.of("pci-stub")))), again.all());
        try (Stream<Path> files = Files.list(again.file().getParent())) {
            assertEquals("no temporary file is left beside the ledger", List.of(again.file()), files.toList());
        }
    }

    @Test
    public void corruptLedgerIsReportedAndLeftAsItIs() throws Exception {
        Path file = AssignmentLedger.fileIn(state);
        Files.createDirectories(file.getParent());
        String entry = "{\"address\":\"../etc\",\"zone\":\"x\",\"zoneId\":\"" + GAMING.id() + "\"}";
        String cut = "{\"version\":2,\"assignments\":[" + entry;
        Files.writeString(file, cut);
        PassthroughException e = assertThrows(PassthroughException.class, this::reopen);
        assertTrue(e.getMessage(), e.getMessage().startsWith("the assignment ledger " + file + " cannot be read"));
        assertTrue(e.getMessage(), e.getMessage().contains("repair it or move it away"));
        assertEquals(cut, Files.readString(file));

        Files.writeString(file, cut + "]}");
        e = assertThrows(PassthroughException.class, this::reopen);
        assertTrue(e.getMessage(), e.getMessage().contains("path characters"));
    }

    @Test
    public void failedWriteLeavesTheLedgerAsItWas() throws Exception {
        Path folder = state.resolve("ledger");
        AssignmentLedger ledger = new AssignmentLedger(folder.resolve("assignments.json"), inventory, binder);
        Files.writeString(folder, "a file where the ledger's folder should be");
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> ledger.record(GAMING, List.of(nvidia(GPU))));
        assertTrue(e.getMessage(), e.getMessage().endsWith("nothing was changed"));
        assertEquals(Optional.empty(), ledger.owner(GPU));
    }

    @Test
    public void reconcileRestoresDevicesOfZonesThatAreGone() throws Exception {
        DeviceAssignments host = new DeviceAssignments(inventory, binder, reopen());
        host.assign(GAMING, List.of(GPU, AUDIO));
        host.assign(BUILD, List.of(EDU));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO));

        // The JVM restarts; only "build" is still running.
        ReconcileReport report = reopen().reconcile(Set.of(BUILD.id()));

        assertEquals(List.of(GPU, AUDIO), report.with(Outcome.RESTORED).stream().map(a -> a.address()).toList());
        assertEquals(List.of(EDU), report.with(Outcome.KEPT).stream().map(a -> a.address()).toList());
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
        assertEquals(Optional.of("snd_hda_intel"), fixture.driverOf(AUDIO));
        assertEquals("(null)", fixture.overrideOf(GPU));
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(EDU));
        assertEquals(List.of(new Assignment(BUILD, new Binding(EDU, Optional.empty(), Optional.empty()))),
                reopen().all());
        assertTrue(report.toString(), report.toString().contains(
                "0000:01:00.0 (zone gaming): restored: zone is not running; 0000:01:00.0 is back on nvidia"));
    }

    @Test
    public void reconcileUndoesABindThatACrashCutShort() throws Exception {
        AssignmentLedger ledger = reopen();
        ledger.record(GAMING, binder.prepare(List.of(GPU, AUDIO)));
        // The crash came after the GPU's driver_override and unbind were written.
        fixture.setOverride(GPU.toString(), "vfio-pci");
        fixture.setDriver(GPU.toString(), Optional.empty());

        ReconcileReport report = reopen().reconcile(Set.of());

        assertEquals(report.toString(), 2, report.with(Outcome.RESTORED).size());
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU.toString()));
        assertEquals("(null)", fixture.overrideOf(GPU.toString()));
        assertEquals(Optional.of("snd_hda_intel"), fixture.driverOf(AUDIO.toString()));
        assertEquals(List.of(), reopen().all());
    }

    @Test
    public void reconcileKeepsAZoneWhoseReleaseFailsAndSaysSo() throws Exception {
        DeviceAssignments host = new DeviceAssignments(inventory, binder, reopen());
        host.assign(GAMING, List.of(GPU, AUDIO));
        kernel.failOn("drivers_probe <- " + AUDIO);
        ReconcileReport report = reopen().reconcile(Set.of());
        assertEquals(report.toString(), 2, report.with(Outcome.FAILED).size());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf(GPU.toString()));
        assertEquals("the zone keeps its whole group", Optional.of("vfio-pci"), fixture.driverOf(AUDIO.toString()));
        assertEquals(2, reopen().ofZone(GAMING.id()).size());
    }

    @Test
    public void reconcileDropsDevicesThatWereUnplugged() throws Exception {
        DeviceAssignments host = new DeviceAssignments(inventory, binder, reopen());
        host.assign(BUILD, List.of(EDU));
        Files.delete(fixture.root().resolve("bus/pci/devices/" + EDU));
        ReconcileReport report = reopen().reconcile(Set.of());
        assertEquals(List.of(EDU), report.with(Outcome.DEVICE_GONE).stream().map(a -> a.address()).toList());
        assertEquals(List.of(), reopen().all());
    }
}

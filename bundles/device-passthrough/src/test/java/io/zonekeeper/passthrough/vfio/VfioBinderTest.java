package io.zonekeeper.passthrough.vfio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.bind.Binding;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.fixture.FakeKernel;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;

public class VfioBinderTest {
    private static final String GPU = "0000:01:00.0";
    private static final String AUDIO = "0000:01:00.1";
    private static final List<PciAddress> GPU_GROUP = List.of(PciAddress.parse(GPU), PciAddress.parse(AUDIO));

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private SysfsFixture fixture;
    private FakeKernel kernel;
    private VfioBinder binder;

    private void machine(String name) throws Exception {
        fixture = SysfsFixture.build(name, tmp.newFolder().toPath());
        kernel = fixture.kernel();
        binder = new VfioBinder(new PciInventory(fixture.root()), kernel);
    }

    @Test
    public void bindsH100ToVfioThenGivesItBackToNvidia() throws Exception {
        machine("h100-pcie");
        Map<String, String> before = fixture.snapshot();
        List<Binding> plan = binder.prepare(List.of(PciAddress.parse("0000:17:00.0")));
        assertEquals(List.of(new Binding(PciAddress.parse("0000:17:00.0"), Optional.of("nvidia"), Optional.empty())),
                plan);
        assertTrue("prepare writes nothing", kernel.writes().isEmpty());

        binder.bind(plan);
        assertEquals(List.of(
                "bus/pci/devices/0000:17:00.0/driver_override <- vfio-pci",
                "bus/pci/drivers/nvidia/unbind <- 0000:17:00.0",
                "bus/pci/drivers_probe <- 0000:17:00.0"), kernel.writes());
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf("0000:17:00.0"));

        List<Restoration> back = binder.release(plan);
        assertEquals(List.of(
                "bus/pci/drivers/vfio-pci/unbind <- 0000:17:00.0",
                "bus/pci/devices/0000:17:00.0/driver_override <- \\n",
                "bus/pci/drivers_probe <- 0000:17:00.0"), kernel.writes().subList(3, 6));
        assertTrue(back.get(0).toString(), back.get(0).restored());
        assertEquals(Optional.of("nvidia"), fixture.driverOf("0000:17:00.0"));
        assertEquals("(null)", fixture.overrideOf("0000:17:00.0"));
        assertEquals(before, fixture.snapshot());
    }

    @Test
    public void rollsBackWhenBindFailsHalfway() throws Exception {
        machine("consumer-gpu");
        binder.bind(binder.prepare(GPU_GROUP));
        int writesOfAWholeBind = kernel.writes().size();
        assertEquals("override, unbind, probe for each of the two functions", 6, writesOfAWholeBind);

        for (int failing = 1; failing <= writesOfAWholeBind; failing++) {
            machine("consumer-gpu");
            Map<String, String> before = fixture.snapshot();
            List<Binding> plan = binder.prepare(GPU_GROUP);
            kernel.failAtWrite(failing);
            PassthroughException e = assertThrows("write " + failing, PassthroughException.class,
                    () -> binder.bind(plan));
            assertTrue(e.getMessage(), e.getMessage().contains("injected failure on write " + failing));
            assertTrue(e.getMessage(), failing == 1 ? e.getMessage().contains("nothing had been changed")
                    : e.getMessage().contains("the host is as it was"));
            assertEquals("after a failure at write " + failing, before, fixture.snapshot());
            assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
            assertEquals(Optional.of("snd_hda_intel"), fixture.driverOf(AUDIO));
        }
    }

    @Test
    public void rollbackRestoresTheOverrideBeforeRebindingBecauseTheKernelInsists() throws Exception {
        machine("consumer-gpu");
        List<Binding> plan = binder.prepare(GPU_GROUP);
        // The audio function's probe fails: both functions must go back, the GPU from vfio-pci to nvidia.
        kernel.failOn("drivers_probe <- " + AUDIO);
        PassthroughException e = assertThrows(PassthroughException.class, () -> binder.bind(plan));
        assertTrue(e.getMessage(), e.getMessage().contains("failed at '" + AUDIO + ": drivers_probe'"));
        assertTrue(e.getMessage(), e.getMessage().contains(GPU + ": rebind to nvidia"));
        assertFalse(e.getMessage(), e.getMessage().contains("INCOMPLETE"));
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
        assertEquals("(null)", fixture.overrideOf(GPU));
    }

    @Test
    public void rollsBackWhenVfioProbeLeavesADeviceDriverless() throws Exception {
        machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        kernel.refuseProbe(AUDIO);
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> binder.bind(binder.prepare(GPU_GROUP)));
        assertTrue(e.getMessage(), e.getMessage().contains(AUDIO + " is on no driver after drivers_probe"));
        assertEquals(before, fixture.snapshot());
    }

    @Test
    public void checksIommuGroupBeforeUnbindingAnything() throws Exception {
        machine("no-iommu");
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> binder.bind(List.of(new Binding(PciAddress.parse(GPU), Optional.of("nvidia"), Optional.empty()))));
        assertTrue(e.getMessage(), e.getMessage().startsWith("the IOMMU is off"));
        assertTrue(e.getMessage(), e.getMessage().contains("nothing was changed"));
        assertEquals(List.of(), kernel.writes());
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
    }

    @Test
    public void refusesTheWholeGroupWhenOneFunctionLostItsGroupAndWritesNothing() throws Exception {
        machine("consumer-gpu");
        List<Binding> plan = binder.prepare(GPU_GROUP);
        Files.delete(fixture.root().resolve("bus/pci/devices/" + AUDIO + "/iommu_group"));
        PassthroughException e = assertThrows(PassthroughException.class, () -> binder.bind(plan));
        assertEquals(AUDIO + " has no IOMMU group: vfio-pci would fail its probe and leave it with no driver; "
                + "nothing was changed", e.getMessage());
        assertEquals(List.of(), kernel.writes());
    }

    @Test
    public void refusesWhenVfioPciIsNotLoaded() throws Exception {
        machine("h100-pcie");
        deleteTree(fixture.root().resolve("bus/pci/drivers/vfio-pci"));
        PassthroughException e = assertThrows(PassthroughException.class,
                () -> binder.prepare(List.of(PciAddress.parse("0000:17:00.0"))));
        assertTrue(e.getMessage(), e.getMessage().contains("modprobe vfio-pci"));
    }

    @Test
    public void releaseRollsBackWhenItFailsHalfway() throws Exception {
        machine("consumer-gpu");
        List<Binding> plan = binder.prepare(GPU_GROUP);
        binder.bind(plan);
        int start = kernel.writes().size();
        binder.release(plan);
        int writesOfAWholeRelease = kernel.writes().size() - start;
        assertEquals(6, writesOfAWholeRelease);

        for (int failing = 1; failing <= writesOfAWholeRelease; failing++) {
            machine("consumer-gpu");
            List<Binding> bound = binder.prepare(GPU_GROUP);
            binder.bind(bound);
            Map<String, String> whileAssigned = fixture.snapshot();
            kernel.failAtWrite(failing);
            int f = failing;
            assertThrows("write " + f, PassthroughException.class, () -> binder.release(bound));
            assertEquals("after a failure at release write " + failing, whileAssigned, fixture.snapshot());
            assertEquals(Optional.of("vfio-pci"), fixture.driverOf(GPU));
            assertEquals(Optional.of("vfio-pci"), fixture.driverOf(AUDIO));
        }
    }

    @Test
    public void releaseReportsADriverThatDidNotComeBack() throws Exception {
        machine("consumer-gpu");
        List<Binding> plan = binder.prepare(GPU_GROUP);
        binder.bind(plan);
        deleteTree(fixture.root().resolve("bus/pci/drivers/snd_hda_intel")); // the module was unloaded meanwhile
        List<Restoration> back = binder.release(plan);
        assertTrue(back.get(0).restored());
        assertFalse(back.get(1).restored());
        assertEquals(AUDIO + " should be on snd_hda_intel but is on no driver; load the driver and run: echo " + AUDIO
                + " > /sys/bus/pci/drivers_probe", back.get(1).toString());
        assertEquals("(null)", fixture.overrideOf(AUDIO));
    }

    @Test
    public void deviceThatWasOnVfioAlreadyIsLeftThere() throws Exception {
        machine("consumer-gpu");
        fixture.setDriver("0000:04:00.0", Optional.of("vfio-pci"));
        fixture.setOverride("0000:04:00.0", "vfio-pci");
        Map<String, String> before = fixture.snapshot();
        List<Binding> plan = binder.prepare(List.of(PciAddress.parse("0000:04:00.0")));
        binder.bind(plan);
        binder.release(plan);
        assertEquals(List.of(), kernel.writes());
        assertEquals(before, fixture.snapshot());
    }

    @Test
    public void driverlessDeviceGoesBackToNoDriver() throws Exception {
        machine("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        List<Binding> plan = binder.prepare(List.of(PciAddress.parse("0000:04:00.0")));
        binder.bind(plan);
        assertEquals(Optional.of("vfio-pci"), fixture.driverOf("0000:04:00.0"));
        assertNotEquals(before, fixture.snapshot());
        assertTrue(binder.release(plan).get(0).restored());
        assertEquals(before, fixture.snapshot());
    }

    @Test
    public void releaseFinishesWhatACrashLeftHalfway() throws Exception {
        machine("consumer-gpu");
        List<Binding> plan = binder.prepare(GPU_GROUP);
        // The JVM died after the GPU's override and unbind: the GPU is on no driver, the audio untouched.
        fixture.setOverride(GPU, "vfio-pci");
        fixture.setDriver(GPU, Optional.empty());
        List<Restoration> back = binder.release(plan);
        assertTrue(back.toString(), back.stream().allMatch(Restoration::restored));
        assertEquals(Optional.of("nvidia"), fixture.driverOf(GPU));
        assertEquals("(null)", fixture.overrideOf(GPU));
    }

    private static void deleteTree(Path dir) throws Exception {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

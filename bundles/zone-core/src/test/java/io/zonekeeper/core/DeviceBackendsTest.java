package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;

/** Devices of a spec go to the backend of their type before the driver starts the zone, and come back after. */
public class DeviceBackendsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private ZoneRegistry registry;
    private ScriptedDriver kvm;
    private final List<String> log = Collections.synchronizedList(new ArrayList<>());

    /** A backend of one type that records its calls; refuses what it is told to. */
    private final class Backend implements DeviceBackend {
        final String type;
        volatile String refuseAddress;
        volatile String failPrepare;
        volatile Path lastZoneDirectory;

        Backend(String type) {
            this.type = type;
        }

        @Override
        public String type() {
            return type;
        }

        @Override
        public List<FieldError> validate(List<IndexedDevice> devices) {
            List<FieldError> errors = new ArrayList<>();
            for (IndexedDevice d : devices) {
                if (d.device().address() != null && d.device().address().equals(refuseAddress)) {
                    errors.add(new FieldError(d.field() + ".address", d.device().address() + " is not here"));
                }
            }
            return errors;
        }

        @Override
        public List<PreparedDevice> prepare(UUID zoneId, String zoneName, Path zoneDirectory,
                List<IndexedDevice> devices) throws ZoneException {
            if (failPrepare != null) {
                throw new ZoneException(failPrepare);
            }
            lastZoneDirectory = zoneDirectory;
            log.add("prepare " + type + " " + zoneName + " " + devices.size());
            List<PreparedDevice> out = new ArrayList<>();
            for (IndexedDevice d : devices) {
                out.add(new PreparedDevice(type, type + d.index(), Map.of("n", String.valueOf(d.index())),
                        type.equals("tpm") ? Set.of(PlatformNeed.FIRMWARE_ACPI) : Set.of(PlatformNeed.PCIE)));
            }
            return out;
        }

        @Override
        public void release(UUID zoneId, String zoneName) {
            log.add("release " + type + " " + zoneName);
        }

        @Override
        public List<String> orphans(Set<UUID> activeZones) {
            return List.of();
        }
    }

    private Backend pci;
    private Backend tpm;

    @Before
    public void setUp() throws Exception {
        ScriptedDriver.HOST.clear();
        registry = new ZoneRegistry();
        registry.open(tmp.newFolder("state").toPath(), tmp.newFolder("zones").toPath(), Duration.ofMillis(300),
                Duration.ofSeconds(1));
        kvm = new ScriptedDriver("kvm");
        kvm.features = EnumSet.of(Feature.ADOPTION, Feature.PCI_PASSTHROUGH);
        kvm.deviceTypes = Set.of("tpm");
        registry.addDriver(new DriverBinding(kvm, "kvm-driver", "1.0.0", 1));
        pci = new Backend("pci");
        tpm = new Backend("tpm");
        registry.addDeviceBackend(pci);
        registry.addDeviceBackend(tpm);
    }

    @After
    public void tearDown() {
        registry.close();
    }

    private static ZoneSpec spec(String name) {
        return ZoneSpec.builder(name).device(DeviceSpec.pci("0000:01:00.0")).device(DeviceSpec.of("tpm"))
                .device(DeviceSpec.pci("0000:01:00.1")).build();
    }

    @Test
    public void theDriverGetsEveryDeviceAndTheirNeedsAndStopGivesThemBack() throws Exception {
        registry.create(spec("z1"));
        registry.start("z1");
        assertEquals(List.of("prepare pci z1 2", "prepare tpm z1 1"), log);
        var devices = kvm.lastResources.devices();
        assertEquals(List.of("pci0", "pci2", "tpm1"), devices.stream().map(PreparedDevice::id).toList());
        assertTrue(kvm.lastResources.needs(PlatformNeed.FIRMWARE_ACPI));
        assertTrue(Files.isDirectory(tpm.lastZoneDirectory));
        registry.stop("z1", Duration.ofSeconds(1));
        assertTrue(log.toString(), log.containsAll(List.of("release pci z1", "release tpm z1")));
    }

    @Test
    public void aBackendRefusalAtCreateNamesTheFieldAndStoresNothing() throws Exception {
        pci.refuseAddress = "0000:01:00.1";
        try {
            registry.create(spec("z2"));
            fail("the backend refused devices[2]");
        } catch (InvalidSpecException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("devices[2].address"));
        }
        assertFalse(registry.get("z2").isPresent());
    }

    @Test
    public void aFailingBackendUndoesTheOthersAndTheDriverIsNotCalled() throws Exception {
        registry.create(spec("z3"));
        tpm.failPrepare = "swtpm did not start: no such file";
        try {
            registry.start("z3");
            fail("the tpm backend failed");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("swtpm did not start"));
        }
        assertEquals(List.of("prepare pci z3 2", "release pci z3"), log);
        assertTrue(kvm.calls.isEmpty());
        assertEquals(ZoneState.DEFINED, registry.get("z3").orElseThrow().state());
    }

    @Test
    public void aTypeWithoutABackendIsRefusedAtStartWithWhatToInstall() throws Exception {
        registry.removeDeviceBackend(tpm);
        registry.create(spec("z4"));
        try {
            registry.start("z4");
            fail("no tpm backend");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no device backend for tpm is installed"));
        }
        assertEquals(List.of("prepare pci z4 2", "release pci z4"), log);
        assertTrue(kvm.calls.isEmpty());
    }

    @Test
    public void aDriverThatCannotRenderATypeIsNotAskedAndNothingIsPrepared() throws Exception {
        kvm.deviceTypes = Set.of();
        registry.create(spec("z5"));
        try {
            registry.start("z5");
            fail("kvm does not render tpm devices");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("does not render tpm devices"));
        }
        assertTrue(log.toString(), log.isEmpty());
    }

    @Test
    public void deviceSpecValidationNamesTheField() {
        ZoneSpec bad = ZoneSpec.builder("z6").device(new DeviceSpec("TPM", null))
                .device(new DeviceSpec("tpm", "../../etc")).device(new DeviceSpec("pci", "0000:01:00.0/x")).build();
        List<String> fields = bad.validate().stream().map(FieldError::field).toList();
        assertEquals(List.of("devices[0].type", "devices[1].address", "devices[2].address"), fields);
    }
}

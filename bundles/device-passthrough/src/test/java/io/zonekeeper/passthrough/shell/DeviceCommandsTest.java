package io.zonekeeper.passthrough.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.felix.gogo.runtime.CommandProcessorImpl;
import org.apache.felix.gogo.runtime.threadio.ThreadIOImpl;
import org.apache.felix.service.command.CommandSession;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.passthrough.DeviceAssignments;
import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.PciDeviceBackend;
import io.zonekeeper.passthrough.fixture.FakeZones;
import io.zonekeeper.passthrough.fixture.SysfsFixture;
import io.zonekeeper.passthrough.fixture.TestZones;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;

public class DeviceCommandsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private SysfsFixture fixture;
    private Path state;
    private final FakeZones zones = new FakeZones();

    private DeviceCommands commands(String machine) throws Exception {
        fixture = SysfsFixture.build(machine, tmp.newFolder().toPath());
        state = tmp.getRoot().toPath().resolve("state");
        return new DeviceCommands(new PciDeviceBackend(DeviceAssignments.open(new PciInventory(fixture.root()),
                fixture.kernel(), state), zones, PciDeviceBackend.Mode.VFIO));
    }

    private static String row(String table, String bdf) {
        return table.lines().filter(l -> l.startsWith(bdf)).findFirst().orElseThrow(() -> new AssertionError(
                "no row for " + bdf + " in\n" + table));
    }

    @Test
    public void listShowsEachDeviceWithItsGroupAndWhetherAZoneCouldTakeIt() throws Exception {
        String table = commands("consumer-gpu").list();
        assertTrue(table, table.startsWith("BDF           ID         CLASS     DRIVER         GROUP  GPU  NUMA  RESET  "
                + "ZONE  ASSIGNABLE\n"));
        assertEquals("0000:01:00.0  10de:2684  0x030000  nvidia         14     GPU  -     bus    -     yes: a zone "
                + "names it with 0000:01:00.1 (snd_hda_intel)", row(table, "0000:01:00.0"));
        assertEquals("0000:00:01.0  8086:1901  0x060400  pcieport       14          -     -      -     no: "
                + "0000:00:01.0 is a PCI bridge; bridges are not assigned, the devices behind them are",
                row(table, "0000:00:01.0"));
        assertTrue(row(table, "0000:05:00.0"), row(table, "0000:05:00.0").contains(
                "no: 0000:06:00.0 (ahci) in IOMMU group 17 is still on its driver"));
        assertEquals(10, table.lines().count());
    }

    @Test
    public void listShowsTheZoneThatHoldsADevice() throws Exception {
        DeviceCommands commands = commands("h100-pcie");
        zones.put("ml", ZoneState.DEFINED);
        commands.assign("ml", "0000:17:00.0");
        String line = row(commands.list(), "0000:17:00.0");
        assertEquals("0000:17:00.0  10de:2331  0x030200  vfio-pci  14     GPU  0     flr,bus  ml    no: 0000:17:00.0 "
                + "in IOMMU group 14 is held by zone ml", line);
    }

    @Test
    public void listAsJsonIsForScripts() throws Exception {
        String text = commands("h100-sxm").list("--json");
        JsonObject root;
        try (JsonReader reader = Json.createReader(new StringReader(text))) {
            root = reader.readObject();
        }
        assertTrue(root.getBoolean("iommuEnabled"));
        JsonObject gpu = root.getJsonArray("devices").stream().map(v -> v.asJsonObject())
                .filter(o -> o.getString("address").equals("0000:9a:00.0")).findFirst().orElseThrow();
        assertEquals("10de", gpu.getString("vendor"));
        assertEquals("2330", gpu.getString("device"));
        assertEquals("0x030200", gpu.getString("class"));
        assertEquals("nvidia", gpu.getString("driver"));
        assertEquals(21, gpu.getInt("iommuGroup"));
        assertEquals(1, gpu.getInt("numaNode"));
        assertEquals(0, gpu.getJsonArray("resetMethods").size());
        assertTrue(gpu.getBoolean("gpu"));
        assertTrue(gpu.getBoolean("assignable"));
        assertTrue(gpu.isNull("zone"));
        assertEquals(List.of("0000:9a:00.0"), gpu.getJsonArray("takesTogether").getValuesAs(
                jakarta.json.JsonString::getString));
    }

    @Test
    public void listOfOneDevice() throws Exception {
        String table = commands("h100-pcie").list("0000:17:00.0");
        assertEquals(2, table.lines().count());
        assertTrue(table, row(table, "0000:17:00.0").endsWith("yes"));
    }

    @Test
    public void listOnAMachineWithoutIommuSaysSoFirst() throws Exception {
        String table = commands("no-iommu").list();
        assertTrue(table, table.startsWith("No device can be assigned: the IOMMU is off: "));
        assertTrue(table, table.lines().findFirst().get().contains("intel_iommu=on"));
        assertTrue(row(table, "0000:01:00.0").endsWith("no: the IOMMU is off"));
        assertFalse(Json.createReader(new StringReader(commands("no-iommu").list("--json"))).readObject()
                .getBoolean("iommuEnabled"));
    }

    @Test
    public void refusesBdfWithPathCharactersAndChangesNothing() throws Exception {
        DeviceCommands commands = commands("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> commands.list("../../../../etc/passwd"));
        assertTrue(e.getMessage(), e.getMessage().contains("path characters"));
        assertEquals(before, fixture.snapshot());
        assertFalse("the state directory is not even created", Files.exists(state));
    }

    @Test
    public void refusesUnknownDeviceAndUnknownOption() throws Exception {
        DeviceCommands commands = commands("consumer-gpu");
        PassthroughException e = assertThrows(PassthroughException.class, () -> commands.list("0000:42:00.0"));
        assertTrue(e.getMessage(), e.getMessage().startsWith("no PCI device 0000:42:00.0 in "));
        IllegalArgumentException o = assertThrows(IllegalArgumentException.class, () -> commands.list("--jsn"));
        assertEquals("unknown option --jsn; usage: device:list [--json] [BDF...]", o.getMessage());
    }

    @Test
    public void listingChangesNothingOnTheHost() throws Exception {
        DeviceCommands commands = commands("consumer-gpu");
        Map<String, String> before = fixture.snapshot();
        commands.list();
        commands.list("--json");
        assertEquals(before, fixture.snapshot());
        assertFalse(Files.exists(state));
    }

    @Test
    public void gogoRunsDeviceListWithItsOptions() throws Exception {
        DeviceCommands commands = commands("h100-pcie");
        ThreadIOImpl io = new ThreadIOImpl();
        io.start();
        try {
            CommandProcessorImpl processor = new CommandProcessorImpl(io);
            processor.addCommand("device", commands, "list");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            InputStream in = new ByteArrayInputStream(new byte[0]);
            CommandSession session = processor.createSession(in, out, out);
            Object json = session.execute("device:list --json 0000:17:00.0");
            JsonObject root = Json.createReader(new StringReader(json.toString())).readObject();
            assertEquals(1, root.getJsonArray("devices").size());
            Object table = session.execute("device:list");
            assertTrue(table.toString(), table.toString().startsWith("BDF "));
            Exception e = assertThrows(Exception.class, () -> session.execute("device:list 0000:17:00.0/.."));
            assertTrue(e.getMessage(), e.getMessage().contains("path characters"));
            session.close();
        } finally {
            io.stop();
        }
    }

    @Test
    public void componentsAreAGogoCommandAndAPciBackendConfiguredUnderItsPid() throws Exception {
        Map<String, String> commands = properties("io.zonekeeper.passthrough.shell.DeviceCommands", null);
        assertEquals(Optional.of("device"), Optional.ofNullable(commands.get("osgi.command.scope")));
        assertEquals(Optional.of("list\nassign\nrelease"), Optional.ofNullable(commands.get("osgi.command.function")));
        Map<String, String> backend = properties("io.zonekeeper.passthrough.PciDeviceBackend",
                "io.zonekeeper.passthrough");
        assertEquals(Optional.of("pci"), Optional.ofNullable(backend.get("zonekeeper.device.type")));
        assertEquals(Optional.of("/sys"), Optional.ofNullable(backend.get("sysfsRoot")));
        assertEquals(Optional.of("auto"), Optional.ofNullable(backend.get("mode")));
    }

    private static Map<String, String> properties(String component, String pid) throws Exception {
        Document xml;
        try (InputStream in = DeviceCommands.class.getResourceAsStream("/OSGI-INF/" + component + ".xml")) {
            assertTrue("bnd wrote the component description of " + component, in != null);
            xml = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(in);
        }
        Element root = xml.getDocumentElement();
        if (pid != null) {
            assertEquals(pid, root.getAttribute("configuration-pid"));
            assertEquals("true", root.getAttribute("immediate"));
        }
        NodeList properties = root.getElementsByTagName("property");
        Map<String, String> found = new java.util.TreeMap<>();
        for (int i = 0; i < properties.getLength(); i++) {
            Element p = (Element) properties.item(i);
            found.put(p.getAttribute("name"), p.hasAttribute("value") ? p.getAttribute("value")
                    : p.getTextContent().trim());
        }
        return found;
    }
}

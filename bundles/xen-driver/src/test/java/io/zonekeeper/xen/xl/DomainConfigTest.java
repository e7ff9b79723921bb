package io.zonekeeper.xen.xl;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.xen.SpecFiles;
import io.zonekeeper.xen.xl.DomainConfig.BootFiles;

public class DomainConfigTest {
    private static final UUID ID = UUID.fromString("6b1f2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3");
    private static final BootFiles BOOT = new BootFiles(Path.of("/boot/vmlinuz-6.1.0-56-amd64"),
            Path.of("/var/lib/zonekeeper/cache/xen/zone-initramfs-abc.cpio.gz"), true);

    /** The keys and values of a rendered config, quotes removed; fails on a line that is not KEY = VALUE. */
    static Map<String, String> keys(String cfg) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : cfg.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] kv = line.split(" = ", 2);
            assertEquals("not KEY = VALUE: " + line, 2, kv.length);
            String v = kv[1];
            if ((v.startsWith("\"") && v.endsWith("\"")) || (v.startsWith("'") && v.endsWith("'"))) {
                v = v.substring(1, v.length() - 1);
            } else {
                assertTrue("a bare value must be a number: " + line, v.matches("\\d+"));
            }
            out.put(kv[0], v);
        }
        return out;
    }

    @Test
    public void theSharedHelloSpecRendersToAPvDomain() throws Exception {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO);
        Map<String, String> k = keys(DomainConfig.render(ID, spec, BOOT, DomainConfig.PV));
        assertEquals("hello", k.get("name"));
        assertEquals(ID.toString(), k.get("uuid"));
        assertEquals("pv", k.get("type"));
        assertEquals("/boot/vmlinuz-6.1.0-56-amd64", k.get("kernel"));
        assertEquals(BOOT.ramdisk().toString(), k.get("ramdisk"));
        assertEquals("256", k.get("memory"));
        assertEquals("256", k.get("maxmem"));
        assertEquals("1", k.get("vcpus"));
        assertEquals("console=hvc0 quiet rdinit=/init zk.name=hello loglevel=4", k.get("cmdline"));
        assertEquals("destroy", k.get("on_poweroff"));
        assertEquals("preserve", k.get("on_crash"));
        assertEquals(List.of("name", "uuid", "type", "kernel", "ramdisk", "cmdline", "memory", "maxmem", "vcpus",
                "on_poweroff", "on_reboot", "on_crash"), List.copyOf(k.keySet()));
    }

    @Test
    public void pvhWhenTheZoneAsksForIt() throws Exception {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO).toBuilder().label(DomainConfig.TYPE_LABEL, "pvh").build();
        assertEquals("pvh", keys(DomainConfig.render(ID, spec, BOOT, DomainConfig.PV)).get("type"));
        ZoneSpec plain = SpecFiles.read(SpecFiles.HELLO);
        assertEquals("pvh", keys(DomainConfig.render(ID, plain, BOOT, DomainConfig.PVH)).get("type"));
    }

    @Test
    public void anOwnInitramfsGetsOnlyTheConsoleAndTheSpecsCmdline() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("own").cmdline("root=/dev/xvda").build();
        BootFiles own = new BootFiles(Path.of("/k"), Path.of("/r"), false);
        assertEquals("console=hvc0 root=/dev/xvda", DomainConfig.kernelCmdline(spec, own));
    }

    @Test
    public void aCmdlineWithDoubleQuotesIsSingleQuoted() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("q").cmdline("zk.run=\"echo hi\"").build();
        String cfg = DomainConfig.render(ID, spec, BOOT, DomainConfig.PV);
        assertTrue(cfg, cfg.contains("cmdline = 'console=hvc0 quiet rdinit=/init zk.name=q zk.run=\"echo hi\"'"));
    }

    @Test
    public void whatCannotBeRenderedIsRefusedByFieldName() {
        ZoneSpec spec = ZoneSpec.builder("bad").device(DeviceSpec.pci("0000:01:00.0"))
                .channel(ChannelSpec.toHost("data")).label(DomainConfig.TYPE_LABEL, "hvm")
                .cmdline("a\\b").build();
        List<String> fields = DomainConfig.unsupported(spec).stream().map(FieldError::field).toList();
        assertEquals(List.of("devices", "channels", "labels.xen.type", "cmdline"), fields);
        DriverException e = assertThrows(DriverException.class,
                () -> DomainConfig.render(ID, spec, BOOT, DomainConfig.PV));
        assertTrue(e.getMessage(), e.getMessage().contains("labels.xen.type: 'hvm' is not a Xen guest type"));
        assertTrue(e.getMessage(), e.getMessage().contains("channels: channels (vchan) are not supported"));
    }

    @Test
    public void theSpecsOwnErrorsComeFirst() {
        ZoneSpec spec = ZoneSpec.builder("Bad_Name").vcpus(0).build();
        List<String> fields = DomainConfig.unsupported(spec).stream().map(FieldError::field).toList();
        assertEquals(List.of("name", "vcpus"), fields);
    }

    @Test
    public void mixedQuotesCannotBeQuoted() {
        ZoneSpec spec = ZoneSpec.builder("q").cmdline("a=\"x\" b='y'").build();
        assertEquals(List.of("cmdline"), DomainConfig.unsupported(spec).stream().map(FieldError::field).toList());
    }
}

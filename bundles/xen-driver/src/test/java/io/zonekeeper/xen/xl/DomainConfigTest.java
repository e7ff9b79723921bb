package io.zonekeeper.xen.xl;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.xen.SpecFiles;
import io.zonekeeper.xen.xl.DomainConfig.BootFiles;

public class DomainConfigTest {
    private static final UUID ID = UUID.fromString("6b1f2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3");
    private static final BootFiles BOOT = new BootFiles(Path.of("/boot/vmlinuz-6.1.0-56-amd64"),
            Path.of("/var/lib/zonekeeper/cache/xen/zone-initramfs-abc.cpio.gz"), true);
    private static final BootFiles FULL = new BootFiles(BOOT.kernel(), BOOT.ramdisk(), true,
            Set.of("net", "disk", "vchan"), Map.of());

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
            } else if (!v.startsWith("[ ")) {
                assertTrue("a bare value must be a number or a list: " + line, v.matches("\\d+"));
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
    public void pciFunctionsOnPcibackBecomeThePciList() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("gpu").device(DeviceSpec.pci("0000:01:00.0"))
                .device(DeviceSpec.pci("0000:01:00.1")).build();
        var res = new PreparedResources(List.of(), List.of(), List.of(
                new io.zonekeeper.spi.PreparedDevice("pci", "pci0", Map.of("host", "0000:01:00.0", "slot",
                        "0000:01:00", "multifunction", "true"), Set.of()),
                new io.zonekeeper.spi.PreparedDevice("pci", "pci1", Map.of("host", "0000:01:00.1", "slot",
                        "0000:01:00", "multifunction", "true"), Set.of())), List.of());
        Map<String, String> k = keys(DomainConfig.render(ID, spec, BOOT, DomainConfig.PV, res, BACKENDS));
        assertEquals("[ '0000:01:00.0', '0000:01:00.1' ]", k.get("pci"));

        var noHost = new PreparedResources(List.of(), List.of(), List.of(new io.zonekeeper.spi.PreparedDevice("pci",
                "pci0", Map.of("slot", "0000:01:00"), Set.of())), List.of());
        DriverException e = assertThrows(DriverException.class,
                () -> DomainConfig.render(ID, spec, BOOT, DomainConfig.PV, noHost, BACKENDS));
        assertTrue(e.getMessage(), e.getMessage().contains("has no PCI address"));
    }

    @Test
    public void whatCannotBeRenderedIsRefusedByFieldName() {
        ZoneSpec spec = ZoneSpec.builder("bad").device(DeviceSpec.of("tpm"))
                .disk(new DiskSpec("/d/x.qcow2", "qcow2", false)).channel(ChannelSpec.toHost("data"))
                .label(DomainConfig.TYPE_LABEL, "hvm").cmdline("a\\b").build();
        List<String> fields = DomainConfig.unsupported(spec).stream().map(FieldError::field).toList();
        assertEquals(List.of("devices[0].type", "disks[0].format", "labels.xen.type", "cmdline"), fields);
        DriverException e = assertThrows(DriverException.class,
                () -> DomainConfig.render(ID, spec, BOOT, DomainConfig.PV));
        assertTrue(e.getMessage(), e.getMessage().contains("labels.xen.type: 'hvm' is not a Xen guest type"));
        assertTrue(e.getMessage(), e.getMessage().contains("disks[0].format: qcow2 needs QEMU's qdisk backend"));
    }

    private static final DomainConfig.Backends BACKENDS = new DomainConfig.Backends(Path.of("/c/zk-vif"),
            Path.of("/c/zk-block"), name -> name.equals("zktexisting0000"));

    private static PreparedResources lanAndTwoDisks(String tap) {
        return new PreparedResources(List.of(new PreparedNic("lan", tap, "zkb-lan", "0a:00:00:00:00:05",
                "10.99.0.5/24", "10.99.0.1", "fd00:1::805:ff:fe00:5/64", "fd00:1::1")),
                List.of(new PreparedDisk("data", "/s/disks/data.img", "raw", false),
                        new PreparedDisk("ro", "/s/disks/ro.img", "raw", true)));
    }

    @Test
    public void aZoneWithANetworkAndDisksTellsItsInitTheSameWordsAsOnKvm() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("web").network(new NetworkAttachment("lan", null))
                .disk(new DiskSpec("/s/disks/data.img", "raw", false)).disk(new DiskSpec("/s/disks/ro.img", "raw", true))
                .cmdline("loglevel=4").build();
        Map<String, String> k = keys(DomainConfig.render(ID, spec, FULL, DomainConfig.PV,
                lanAndTwoDisks("zkt0000000000a"), BACKENDS));
        assertEquals("console=hvc0 quiet rdinit=/init zk.name=web zk.features=net,disk"
                + " zk.nic=0a:00:00:00:00:05,10.99.0.5/24,10.99.0.1,fd00:1::805:ff:fe00:5/64,fd00:1::1"
                + " zk.disks=data:rw,ro:ro loglevel=4", k.get("cmdline"));
        assertEquals("[ 'bridge=zkb-lan,mac=0a:00:00:00:00:05,vifname=zkt0000000000a,script=/c/zk-vif' ]",
                k.get("vif"));
        assertEquals("[ 'format=raw,vdev=xvda,access=rw,backendtype=phy,script=/c/zk-block,target=/s/disks/data.img',"
                + " 'format=raw,vdev=xvdb,access=ro,backendtype=phy,script=/c/zk-block,target=/s/disks/ro.img' ]",
                k.get("disk"));
    }

    @Test
    public void aHostInterfaceWithTheLeasedNameIsRefusedBecauseNetbacksOtherNameWouldNotBePinned() {
        ZoneSpec spec = ZoneSpec.builder("web").network(new NetworkAttachment("lan", null))
                .disk(new DiskSpec("/s/disks/data.img", "raw", false)).disk(new DiskSpec("/s/disks/ro.img", "raw", true))
                .build();
        DriverException e = assertThrows(DriverException.class, () -> DomainConfig.render(ID, spec, FULL,
                DomainConfig.PV, lanAndTwoDisks("zktexisting0000"), BACKENDS));
        assertTrue(e.getMessage(), e.getMessage().contains("a host interface named zktexisting0000 exists already"));
        assertTrue(e.getMessage(), e.getMessage().contains("pinned to the zone's lease (MAC 0a:00:00:00:00:05)"));
    }

    @Test
    public void channelsAreNamedToTheZoneInitInSpecOrderAndLoadTheVchanGroup() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data"))
                .channel(ChannelSpec.toHost("logs")).build();
        assertEquals("console=hvc0 quiet rdinit=/init zk.name=web zk.features=vchan zk.channels=data,logs",
                keys(DomainConfig.render(ID, spec, FULL, DomainConfig.PV)).get("cmdline"));
    }

    @Test
    public void aChannelToAZoneWithoutARendezvousOrOnAnOwnInitramfsIsRefused() {
        ZoneSpec spec = ZoneSpec.builder("web").channel(new ChannelSpec("data", "db")).build();
        DriverException e = assertThrows(DriverException.class,
                () -> DomainConfig.render(ID, spec, FULL, DomainConfig.PV));
        assertTrue(e.getMessage(), e.getMessage().contains("channels[0].peer: no rendezvous was arranged"));
        ZoneSpec host = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data")).build();
        e = assertThrows(DriverException.class, () -> DomainConfig.render(ID, host,
                new BootFiles(Path.of("/k"), Path.of("/r"), false), DomainConfig.PV));
        assertTrue(e.getMessage(), e.getMessage().contains("channels: channels need the driver's zone initramfs"));
    }

    @Test
    public void aZoneWithoutNetworksLoadsNoFrontends() throws Exception {
        ZoneSpec spec = SpecFiles.read(SpecFiles.HELLO);
        String cmdline = keys(DomainConfig.render(ID, spec, FULL, DomainConfig.PV)).get("cmdline");
        assertTrue(cmdline, !cmdline.contains("zk.features"));
    }

    @Test
    public void aKernelWithoutTheFrontendModulesIsRefusedNamingTheField() {
        ZoneSpec spec = ZoneSpec.builder("web").network(new NetworkAttachment("lan", null))
                .disk(new DiskSpec("/s/disks/data.img", "raw", false)).disk(new DiskSpec("/s/disks/ro.img", "raw", true))
                .build();
        BootFiles bare = new BootFiles(BOOT.kernel(), BOOT.ramdisk(), true, Set.of(),
                Map.of("net", "kernel module xen_netfront is not in /lib/modules/x/modules.dep"));
        DriverException e = assertThrows(DriverException.class, () -> DomainConfig.render(ID, spec, bare,
                DomainConfig.PV, lanAndTwoDisks("zkt0000000000a"), BACKENDS));
        assertTrue(e.getMessage(), e.getMessage().contains("networks: the zone image of kernel "
                + BOOT.kernel() + " has no net support: kernel module xen_netfront is not in"));
        assertTrue(e.getMessage(), e.getMessage().contains("disks: the zone image"));
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

    @Test
    public void anImageZoneGetsItsImageAndWorkloadReadOnlyAtTheLastTwoVdevsAndTheAgentsVchan() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("img").image("web:1").disk(new DiskSpec("/s/disks/data.img", "raw", false))
                .channel(ChannelSpec.toHost("data")).build();
        BootFiles boot = new BootFiles(BOOT.kernel(), BOOT.ramdisk(), true, Set.of("disk", "vchan", "image"), Map.of());
        PreparedResources res = new PreparedResources(List.of(),
                List.of(new PreparedDisk("data", "/s/disks/data.img", "raw", false)));
        Map<String, String> k = keys(DomainConfig.render(ID, spec, boot, DomainConfig.PV, res, BACKENDS,
                new DomainConfig.ImageDisks(Path.of("/s/cache/images/abc.sqfs"), Path.of("/s/zones/img/workload.zk"))));
        assertEquals("[ 'format=raw,vdev=xvda,access=rw,backendtype=phy,script=/c/zk-block,target=/s/disks/data.img', "
                + "'format=raw,vdev=xvdy,access=ro,backendtype=phy,script=/c/zk-block,target=/s/cache/images/abc.sqfs', "
                + "'format=raw,vdev=xvdz,access=ro,backendtype=phy,script=/c/zk-block,target=/s/zones/img/workload.zk' ]",
                k.get("disk"));
        assertEquals("console=hvc0 quiet rdinit=/init zk.name=img zk.features=disk,vchan,image zk.disks=data:rw"
                + " zk.channels=data zk.image=1", k.get("cmdline"));
    }

    @Test
    public void anImageZoneNeedsTheImageGroupAndItsDisks() {
        ZoneSpec spec = ZoneSpec.builder("img").image("web:1").build();
        DriverException noGroup = assertThrows(DriverException.class, () -> DomainConfig.render(ID, spec, FULL,
                DomainConfig.PV, PreparedResources.NONE, BACKENDS,
                new DomainConfig.ImageDisks(Path.of("/s/i.sqfs"), Path.of("/s/w.zk"))));
        assertTrue(noGroup.getMessage(), noGroup.getMessage().contains("image: the zone image of kernel"));
        BootFiles boot = new BootFiles(BOOT.kernel(), BOOT.ramdisk(), true, Set.of("vchan", "image"), Map.of());
        DriverException noDisks = assertThrows(DriverException.class, () -> DomainConfig.render(ID, spec, boot,
                DomainConfig.PV, PreparedResources.NONE, BACKENDS, null));
        assertTrue(noDisks.getMessage(), noDisks.getMessage().contains("image: the image's disks were not prepared"));
        BootFiles own = new BootFiles(BOOT.kernel(), BOOT.ramdisk(), false);
        DriverException ownInitramfs = assertThrows(DriverException.class, () -> DomainConfig.render(ID, spec, own,
                DomainConfig.PV, PreparedResources.NONE, BACKENDS,
                new DomainConfig.ImageDisks(Path.of("/s/i.sqfs"), Path.of("/s/w.zk"))));
        assertTrue(ownInitramfs.getMessage(), ownInitramfs.getMessage().contains("initramfs of its own"));
    }

    @Test
    public void anImageZoneLeavesTheLastTwoVdevsToItsImage() {
        ZoneSpec.Builder b = ZoneSpec.builder("img").image("web:1");
        for (int i = 0; i < 25; i++) {
            b.disk(new DiskSpec("/s/disks/d" + i + ".img", "raw", false));
        }
        assertEquals(List.of("disks"), DomainConfig.unsupported(b.build()).stream().map(FieldError::field).toList());
    }
    @Test
    public void refusesLessMemoryThanTheKernelAndInitramfsTake() throws Exception {
        // A bzImage header as Debian's 6.1 has it: loaded at 16 MiB, init_size 63.6 MiB; a 2 MiB gzip'd zone
        // initramfs counts twice; 6 MiB to run: 89.6, so 90 MiB.
        Path dir = java.nio.file.Files.createTempDirectory("zk-footprint");
        try {
            java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(0x400).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            h.putInt(0x202, 0x53726448).putShort(0x206, (short) 0x020f).putLong(0x258, 16L << 20)
                    .putInt(0x260, 0x3f98000);
            Path kernel = java.nio.file.Files.write(dir.resolve("vmlinuz"), h.array());
            Path ramdisk = java.nio.file.Files.write(dir.resolve("initramfs.cpio.gz"), new byte[2 << 20]);
            BootFiles boot = new BootFiles(kernel, ramdisk, true, FULL.features(), Map.of());
            DriverException e = assertThrows(DriverException.class, () -> DomainConfig.render(ID,
                    ZoneSpec.builder("tiny").memoryMiB(64).build(), boot, DomainConfig.PVH));
            assertTrue(e.getMessage(), e.getMessage().contains("memoryMiB: 64 MiB is less than kernel " + kernel));
            assertTrue(e.getMessage(), e.getMessage().contains("give the zone at least 90 MiB"));
            assertEquals("90", keys(DomainConfig.render(ID, ZoneSpec.builder("just").memoryMiB(90).build(), boot,
                    DomainConfig.PVH)).get("memory"));
        } finally {
            try (var walk = java.nio.file.Files.walk(dir)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}

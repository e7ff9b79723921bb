package io.zonekeeper.kvm;

import static io.zonekeeper.kvm.qemu.CommandLines.after;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.accel.AccelVerdict;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.kvm.qemu.HostInfo;
import io.zonekeeper.kvm.qemu.Machine;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;

/**
 * The start plan of representative zones: which machine, accelerator and command line each gets, and how a zone that
 * cannot run is refused: once, naming each field once, before its image is built or its accelerator probed where
 * the image has nothing to do with the refusal. The image and the accelerator come from stand-ins that count their
 * calls; everything else is the driver's own code.
 */
public class StartPlannerTest {
    private static final UUID ID = UUID.fromString("0b0e8d3c-4f6a-4a51-9d4e-1f2a3b4c5d6e");
    private static final Path DIR = Path.of("/var/lib/zk/zones/web");
    private static final BootImage IMAGE = new BootImage(Path.of("/boot/vmlinuz-6.1.0-56-amd64"),
            Path.of("/var/lib/zk/cache/kvm/vmlinux-x"), Path.of("/var/lib/zk/cache/kvm/initramfs-x.cpio.gz"), true,
            Set.of("power", "channels", "net", "disk", "vpci", "tpm"), "6.1.0-56-amd64");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final List<ZoneSpec> imagesBuilt = new ArrayList<>();
    private final List<BootImage> probed = new ArrayList<>();
    private BootImage image = IMAGE;
    private HostInfo.Facts host = new HostInfo.Facts(4096, 4, OptionalLong.of(2096013));

    private StartPlanner planner(Machine floor) {
        return new StartPlanner("qemu-system-x86_64", floor, spec -> {
            imagesBuilt.add(spec);
            return image;
        }, img -> {
            probed.add(img);
            return new AccelVerdict(AccelVerdict.TCG, "stand-in", Map.of());
        }, () -> host);
    }

    private StartPlan plan(ZoneSpec spec, PreparedResources res) throws DriverException {
        return planner(Machine.MICROVM_PVH).plan(ID, spec.name(), spec, DIR, res);
    }

    private String refusal(ZoneSpec spec, PreparedResources res) {
        return refusal(spec, DIR, res);
    }

    private String refusal(ZoneSpec spec, Path dir, PreparedResources res) {
        try {
            StartPlan p = planner(Machine.MICROVM_PVH).plan(ID, spec.name(), spec, dir, res);
            fail("planned " + p.argv());
            return null;
        } catch (DriverException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("zone " + spec.name()
                    + " cannot run on the kvm driver: "));
            return e.getMessage();
        }
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
            n++;
        }
        return n;
    }

    private static PreparedResources devices(PreparedDevice... d) {
        return new PreparedResources(List.of(), List.of(), List.of(d), List.of());
    }

    private static PreparedResources channels(PreparedChannel... c) {
        return new PreparedResources(List.of(), List.of(), List.of(), List.of(c));
    }

    private static PreparedDevice tpm(String socket) {
        return new PreparedDevice("tpm", "tpm0", Map.of("socket", socket), Set.of());
    }

    /** A file with the x86 boot protocol's header where a bzImage has it, as firmware needs. */
    private Path bzImage() throws IOException {
        byte[] b = new byte[0x300];
        System.arraycopy("HdrS".getBytes(StandardCharsets.US_ASCII), 0, b, 0x202, 4);
        return Files.write(tmp.newFile("vmlinuz").toPath(), b);
    }

    // ------------------------------------------------------------------------------------------------- plans

    @Test
    public void aPlainZoneGetsTheMicrovmThePvhKernelAndTheProbedAccelerator() throws DriverException {
        ZoneSpec spec = ZoneSpec.builder("web").memoryMiB(96).vcpus(2).cmdline("zk.heartbeat=1").build();
        StartPlan p = plan(spec, PreparedResources.NONE);

        assertEquals(Machine.MICROVM_PVH, p.machine());
        assertEquals("no device needs more", p.machineReason());
        assertEquals("tcg", p.accel());
        assertEquals(DIR, p.files().dir());
        assertEquals(List.of(spec), imagesBuilt);
        assertEquals(List.of(IMAGE), probed);
        List<String> a = p.argv();
        assertEquals(List.of("qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off", "-accel",
                "tcg,tb-size=16", "-cpu", "qemu64,+arat", "-m", "96M", "-smp", "2"), a.subList(0, 11));
        assertEquals("/var/lib/zk/cache/kvm/vmlinux-x", after(a, "-kernel"));
        assertEquals("console=ttyS0 quiet panic=-1 tsc_early_khz=2096013 tsc=reliable no_timer_check"
                + " mitigations=off cryptomgr.notests rdinit=/init zk.name=web zk.features=power zk.heartbeat=1",
                after(a, "-append"));
        try {
            a.add("-S");
            fail("a plan's command line cannot change after planning");
        } catch (UnsupportedOperationException expected) {
            // immutable, as it should be
        }
    }

    @Test
    public void aTpmZoneGetsQ35ThroughFirmwareAndBootsTheBzImage() throws Exception {
        Path kernel = bzImage();
        image = new BootImage(kernel, IMAGE.bootKernel(), IMAGE.initramfs(), true, IMAGE.features(), IMAGE.release());
        PreparedResources res = devices(new PreparedDevice("tpm", "tpm0", Map.of("socket", "/run/swtpm/web.sock"),
                Set.of(PlatformNeed.FIRMWARE_ACPI)));

        StartPlan p = plan(ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).build(), res);

        assertEquals(Machine.Q35_FIRMWARE, p.machine());
        assertEquals("tpm0 (tpm) needs FIRMWARE_ACPI", p.machineReason());
        assertEquals("q35,sata=off,smbus=off,vmport=off", after(p.argv(), "-M"));
        assertEquals(kernel.toString(), after(p.argv(), "-kernel"));
        assertTrue(p.argv().contains("tpm-tis,tpmdev=tpmdev-tpm0,id=tpm0"));
    }

    @Test
    public void aZoneWithAHostPciFunctionGetsQ35WithVfioAndKeepsThePvhKernel() throws DriverException {
        PreparedResources res = devices(new PreparedDevice("pci", "gpu0", Map.of("host", "0000:01:00.0"),
                Set.of(PlatformNeed.PCIE)));

        StartPlan p = plan(ZoneSpec.builder("web").device(DeviceSpec.pci("0000:01:00.0")).build(), res);

        assertEquals(Machine.Q35_PVH, p.machine());
        assertEquals("/var/lib/zk/cache/kvm/vmlinux-x", after(p.argv(), "-kernel"));
        assertTrue(p.argv().toString(), p.argv().contains("vfio-pci,host=0000:01:00.0,id=gpu0,bus=rp0,addr=0.0"));
    }

    @Test
    public void aConfiguredLeastMachineIsWhatAZoneWithoutDevicesGets() throws DriverException {
        ZoneSpec spec = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data")).build();
        StartPlan p = planner(Machine.Q35_PVH).plan(ID, "web", spec, DIR, PreparedResources.NONE);
        assertEquals(Machine.Q35_PVH, p.machine());
        assertEquals("configured machine=q35-pvh", p.machineReason());
        assertTrue(p.argv().contains("virtio-serial-pci"));
    }

    // ---------------------------------------------------------------------------------------------- refusals

    @Test
    public void aRefusedSpecIsCheckedOnceNamesEachFieldOnceAndNeitherBuildsAnImageNorProbes() {
        ZoneSpec spec = ZoneSpec.builder("web").memoryMiB(1).device(DeviceSpec.of("fpga"))
                .network(new NetworkAttachment("lan", null)).build();
        String m = refusal(spec, PreparedResources.NONE);
        for (String field : List.of("memoryMiB:", "devices[0].type:", "networks:")) {
            assertEquals(field + " once in " + m, 1, count(m, field));
        }
        assertEquals(List.of(), imagesBuilt);
        assertEquals(List.of(), probed);
    }

    @Test
    public void refusesWhatItCannotRenderByFieldName() {
        ZoneSpec spec = ZoneSpec.builder("web").device(DeviceSpec.pci("0000:01:00.0"))
                .network(new NetworkAttachment("lan", null)).disk(new DiskSpec("/d.img", "raw", false))
                .channel(new ChannelSpec("pipe", "db")).build();
        String m = refusal(spec, PreparedResources.NONE);
        for (String field : List.of("devices[0]: no pci device was prepared", "networks: 1 named but 0 tap device(s)"
                + " prepared", "disks:", "channels[0].peer:")) {
            assertTrue(field + " in " + m, m.contains(field));
        }
        assertTrue(m, m.contains("pipe to zone db was not arranged"));
    }

    @Test
    public void refusesAZoneToZoneChannelTheBrokerDidNotArrangeAsItIsNamed() {
        ZoneSpec a = ZoneSpec.builder("a").channel(new ChannelSpec("data", "b")).build();
        for (PreparedResources res : List.of(PreparedResources.NONE,
                channels(new PreparedChannel("data", "c", "/s/x.sock", true)),
                channels(new PreparedChannel("data", "b", "/s,evil/x.sock", true)))) {
            String m = refusal(a, res);
            assertTrue(m, m.contains("channels[0]"));
        }
    }

    @Test
    public void refusesSocketPathsLongerThanUnixAllows() {
        Path deep = Path.of("/" + "d".repeat(60), "zones", "web");
        String m = refusal(ZoneSpec.builder("web").channel(ChannelSpec.toHost("c".repeat(32))).build(), deep,
                PreparedResources.NONE);
        assertTrue(m, m.contains("at most 107"));
        assertTrue(m, m.contains("ccc.sock"));
    }

    @Test
    public void refusesDevicesThatWereNotPreparedOrCannotBeRenderedSafely() {
        ZoneSpec spec = ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).device(DeviceSpec.pci("0000:01:00.0"))
                .device(DeviceSpec.of("fpga")).build();
        PreparedResources res = devices(
                new PreparedDevice("tpm", "tpm0", Map.of("socket", "/s/tpm.sock,server=on", "model", "tpm-xyz"),
                        Set.of()),
                new PreparedDevice("tpm", "tpm1", Map.of("socket", "relative.sock"), Set.of()),
                new PreparedDevice("pci", "0bad", Map.of("host", "0000:01:00.0,x-vga=on"), Set.of()),
                new PreparedDevice("pci", "gpu1", Map.of("host", "0000:02:00.1", "multifunction", "yes"), Set.of()));
        String m = refusal(spec, res);
        for (String expected : List.of("devices[2].type: the kvm driver renders pci and tpm devices, not fpga",
                "socket '/s/tpm.sock,server=on' is not an absolute path without commas",
                "model 'tpm-xyz' is not tpm-tis or tpm-crb", "socket 'relative.sock'",
                "2 TPMs prepared, but a QEMU machine has at most one", "id '0bad' is not a QEMU device id",
                "host '0000:01:00.0,x-vga=on' is not a PCI address", "multifunction 'yes' is not true or false",
                "slot 0000:02:00 has no function 0")) {
            assertTrue(expected + " in " + m, m.contains(expected));
        }
        assertTrue(refusal(ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).build(), PreparedResources.NONE)
                .contains("devices[0]: no tpm device was prepared for it"));
        assertTrue(refusal(ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).build(),
                devices(tpm("/" + "s".repeat(110)))).contains("longer than a Unix socket path may be"));
    }

    @Test
    public void refusesWhatTheHostCannotGive() {
        host = new HostInfo.Facts(512, 2, OptionalLong.empty());
        String m = refusal(ZoneSpec.builder("web").memoryMiB(1024).vcpus(3).build(), PreparedResources.NONE);
        assertTrue(m, m.contains("memoryMiB: 1024 MiB asked, but the host has only 512 MiB available"));
        assertTrue(m, m.contains("vcpus: 3 asked, but the host has 2 cores"));
        assertEquals(List.of(), imagesBuilt);
    }

    @Test
    public void refusesWhatTheKernelLacksOnceItsImageIsBuiltAndProbesNothing() {
        image = new BootImage(IMAGE.kernel(), IMAGE.bootKernel(), IMAGE.initramfs(), true, Set.of("power"),
                IMAGE.release());
        ZoneSpec spec = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data"))
                .network(new NetworkAttachment("lan", null)).build();
        String m = refusal(spec, new PreparedResources(List.of(new PreparedNic("lan", "zkt0", "zkb-lan",
                "0a:11:22:33:44:55", "10.99.0.5/24", "10.99.0.1")), List.of()));
        assertTrue(m, m.contains("channels: kernel /boot/vmlinuz-6.1.0-56-amd64 has no virtio_console module"));
        assertTrue(m, m.contains("networks: kernel /boot/vmlinuz-6.1.0-56-amd64 has no virtio_net module"));
        assertEquals(List.of(spec), imagesBuilt);
        assertEquals(List.of(), probed);
    }

    @Test
    public void refusesAQ35ZoneWithVirtioDevicesWhenTheKernelHasNoVirtioPci() throws IOException {
        image = new BootImage(bzImage(), IMAGE.bootKernel(), IMAGE.initramfs(), true,
                Set.of("power", "channels", "tpm"), IMAGE.release());
        String m = refusal(ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).channel(ChannelSpec.toHost("data"))
                .build(), devices(tpm("/run/swtpm/web.sock")));
        assertTrue(m, m.contains("virtio_pci"));
        assertTrue(m, m.contains("q35-firmware"));
    }

    @Test
    public void refusesAFirmwareBootOfAKernelThatIsNoBzImage() throws IOException {
        image = new BootImage(Files.write(tmp.newFile("vmlinux").toPath(), new byte[] { 0x7f, 'E', 'L', 'F' }),
                IMAGE.bootKernel(), IMAGE.initramfs(), true, IMAGE.features(), IMAGE.release());
        String m = refusal(ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).build(),
                devices(tpm("/run/swtpm/web.sock")));
        assertTrue(m, m.contains("kernel: the zone needs the q35-firmware machine"));
        assertTrue(m, m.contains("is not one; name a vmlinuz (bzImage)"));
        assertEquals(List.of(), probed);
    }
    /** An ELF64 vmlinux whose one loadable segment, at 16 MiB, ends at {@code endMiB} MiB (bss included). */
    private Path vmlinuxEndingAt(int endMiB) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64 + 56).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1);
        b.putLong(0x20, 64).putShort(0x36, (short) 56).putShort(0x38, (short) 1);
        b.putInt(64, 1).putLong(64 + 24, 16L << 20).putLong(64 + 32, 1L << 20).putLong(64 + 40, (endMiB - 16L) << 20);
        return Files.write(tmp.newFile("vmlinux-elf").toPath(), b.array());
    }

    @Test
    public void refusesLessMemoryThanTheKernelAndInitramfsTakeBeforeProbing() throws Exception {
        // Debian's 6.1 kernel ends at 74 MiB once loaded; a 5 MiB zone initramfs counts twice; 6 MiB to run: 90 MiB.
        Path initramfs = Files.write(tmp.newFile("initramfs.cpio").toPath(), new byte[5 << 20]);
        image = new BootImage(IMAGE.kernel(), vmlinuxEndingAt(74), initramfs, true, IMAGE.features(),
                IMAGE.release());
        String m = refusal(ZoneSpec.builder("tiny").memoryMiB(64).build(), PreparedResources.NONE);
        assertTrue(m, m.contains("memoryMiB: 64 MiB is less than kernel " + IMAGE.kernel()
                + " and its initramfs take"));
        assertTrue(m, m.contains("give the zone at least 90 MiB"));
        assertEquals("refused before the accelerator probe", List.of(), probed);
        assertEquals(1, count(m, "memoryMiB"));

        StartPlan p = plan(ZoneSpec.builder("just").memoryMiB(90).build(), PreparedResources.NONE);
        assertTrue(p.argv().toString(), after(p.argv(), "-m").startsWith("90M"));
    }

    @Test
    public void aKernelWithoutAKnownFootprintGetsNoMemoryFloor() throws Exception {
        // IMAGE's files do not exist, and a file that is no kernel has no footprint: left to QEMU.
        plan(ZoneSpec.builder("small").memoryMiB(64).build(), PreparedResources.NONE);
        image = new BootImage(IMAGE.kernel(), Files.write(tmp.newFile("notelf").toPath(), new byte[4096]),
                IMAGE.initramfs(), true, IMAGE.features(), IMAGE.release());
        assertEquals(64 + "M", after(plan(ZoneSpec.builder("small").memoryMiB(64).build(),
                PreparedResources.NONE).argv(), "-m"));
    }
}

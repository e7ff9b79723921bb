package io.zonekeeper.kvm.qemu;

import static io.zonekeeper.kvm.qemu.CommandLines.FILES;
import static io.zonekeeper.kvm.qemu.CommandLines.ID;
import static io.zonekeeper.kvm.qemu.CommandLines.after;
import static io.zonekeeper.kvm.qemu.CommandLines.all;
import static io.zonekeeper.kvm.qemu.CommandLines.machineFor;
import static io.zonekeeper.kvm.qemu.CommandLines.render;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;

/** Zones with devices: which machine each gets, and how its TPM and host PCI functions become QEMU arguments. */
public class QemuDevicesTest {
    private static final BootImage IMAGE = new BootImage(Path.of("/boot/vmlinuz-6.1.0-56-amd64"),
            Path.of("/var/lib/zk/cache/kvm/vmlinux-x"), Path.of("/var/lib/zk/cache/kvm/initramfs-x.cpio.gz"), true,
            Set.of("power", "channels", "net", "disk", "vpci", "tpm"), "6.1.0-56-amd64");
    private static final String SOCKET = "/var/lib/zk/zones/web/tpm.sock";

    private static PreparedDevice tpm(String model, Set<PlatformNeed> needs) {
        return new PreparedDevice("tpm", "tpm0", Map.of("socket", SOCKET, "model", model, "version", "2.0"), needs);
    }

    private static PreparedDevice pci(String id, String host, boolean multifunction) {
        return new PreparedDevice("pci", id, Map.of("host", host, "slot", host.substring(0, host.lastIndexOf('.')),
                "multifunction", String.valueOf(multifunction), "group", "7"), Set.of(PlatformNeed.PCIE));
    }

    private static PreparedResources devices(PreparedDevice... d) {
        return new PreparedResources(List.of(), List.of(), List.of(d), List.of());
    }

    @Test
    public void aZoneWithoutDevicesKeepsTheFastMicrovm() {
        List<String> a = render(ZoneSpec.builder("web").build(), FILES, IMAGE);
        assertEquals("microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off", after(a, "-M"));
        assertEquals("the PVH vmlinux", "/var/lib/zk/cache/kvm/vmlinux-x", after(a, "-kernel"));
        assertEquals(Machine.MICROVM_PVH, machineFor(PreparedResources.NONE));
    }

    @Test
    public void aTpmBootsTheBzImageThroughFirmwareOnQ35WithAnEmulatorBackedTis() {
        ZoneSpec spec = ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).build();
        PreparedResources res = devices(tpm("tpm-tis", Set.of(PlatformNeed.FIRMWARE_ACPI)));

        List<String> a = render(spec, FILES, IMAGE, res);

        assertEquals(Machine.Q35_FIRMWARE, machineFor(res));
        assertEquals("q35,sata=off,smbus=off,vmport=off", after(a, "-M"));
        assertEquals("the bzImage, through SeaBIOS", "/boot/vmlinuz-6.1.0-56-amd64", after(a, "-kernel"));
        assertTrue(all(a, "-chardev").contains("socket,id=chr-tpm0,path=" + SOCKET));
        assertEquals(List.of("emulator,id=tpmdev-tpm0,chardev=chr-tpm0"), all(a, "-tpmdev"));
        assertEquals(List.of("tpm-tis,tpmdev=tpmdev-tpm0,id=tpm0"), deviceArgs(a));
        String append = after(a, "-append");
        assertTrue(append, append.contains("zk.features=power,tpm"));
        assertEquals("tpm0 (tpm) needs FIRMWARE_ACPI", QemuDevices.why(res, Machine.MICROVM_PVH, Machine.Q35_FIRMWARE));
        assertEquals(List.of("tpm tpm0 tpm-tis 2.0 socket " + SOCKET), QemuDevices.describe(res.devices()));
    }

    @Test
    public void aTpmGetsFirmwareEvenWhenItsBackendForgotToAskForIt() {
        PreparedResources res = devices(tpm("tpm-crb", Set.of()));
        List<String> a = render(ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).build(), FILES,
                IMAGE, res);
        assertEquals(Machine.Q35_FIRMWARE, machineFor(res));
        assertEquals(List.of("tpm-crb,tpmdev=tpmdev-tpm0,id=tpm0"), deviceArgs(a));
    }

    @Test
    public void virtioDevicesMoveToPciOnQ35AndTheInitLoadsVirtioPci() {
        ZoneSpec spec = ZoneSpec.builder("web").device(DeviceSpec.of("tpm")).channel(ChannelSpec.toHost("data"))
                .network(new NetworkAttachment("lan", null)).disk(new DiskSpec("/d/data.img", "raw", false)).build();
        PreparedResources res = new PreparedResources(
                List.of(new PreparedNic("lan", "zkt0", "zkb-lan", "0a:11:22:33:44:55", "10.99.0.5/24", "10.99.0.1")),
                List.of(new PreparedDisk("data", "/d/data.img", "raw", false)),
                List.of(tpm("tpm-tis", Set.of(PlatformNeed.FIRMWARE_ACPI))), List.of());

        List<String> a = render(spec, FILES, IMAGE, res);

        List<String> dev = all(a, "-device");
        assertTrue(dev.toString(), dev.contains("virtio-serial-pci"));
        assertTrue(dev.toString(), dev.contains("virtserialport,chardev=ch-data,name=data"));
        assertTrue(dev.toString(), dev.contains("virtio-net-pci,netdev=n0,mac=0a:11:22:33:44:55,romfile="));
        assertTrue(dev.toString(), dev.contains("virtio-blk-pci,drive=d0,serial=zk-d0"));
        assertFalse(dev.toString(), dev.stream().anyMatch(d -> d.contains("-device,") || d.endsWith("-device")));
        assertTrue(after(a, "-append"), after(a, "-append").contains("zk.features=power,vpci,channels,net,disk,tpm "));
        // What does not depend on the machine stays as it is on microvm.
        assertEquals("unix:/var/lib/zk/zones/web/qmp.sock,server=on,wait=off", after(a, "-qmp"));
        assertEquals("chardev:console", after(a, "-serial"));
        assertEquals("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", after(a, "-sandbox"));
        assertEquals(ID.toString(), after(a, "-uuid"));
    }

    @Test
    public void hostPciFunctionsGetARootPortPerSlotAndKeepTheirFunctionNumbers() {
        ZoneSpec spec = ZoneSpec.builder("gpu").device(DeviceSpec.pci("0000:01:00.0"))
                .device(DeviceSpec.pci("0000:01:00.1")).device(DeviceSpec.pci("0000:03:00.0")).build();
        PreparedResources res = devices(pci("gpu0", "0000:01:00.0", true), pci("gpu1", "0000:01:00.1", true),
                pci("nic0", "0000:03:00.0", false));

        List<String> a = render(spec, FILES, IMAGE, res);

        assertEquals(Machine.Q35_PVH, machineFor(res));
        assertEquals("q35,sata=off,smbus=off,vmport=off", after(a, "-M"));
        assertEquals("PCI Express alone needs no firmware boot", "/var/lib/zk/cache/kvm/vmlinux-x", after(a, "-kernel"));
        assertEquals(List.of(
                "pcie-root-port,id=rp0,bus=pcie.0,chassis=1",
                "vfio-pci,host=0000:01:00.0,id=gpu0,bus=rp0,addr=0.0,multifunction=on",
                "vfio-pci,host=0000:01:00.1,id=gpu1,bus=rp0,addr=0.1",
                "pcie-root-port,id=rp1,bus=pcie.0,chassis=2",
                "vfio-pci,host=0000:03:00.0,id=nic0,bus=rp1,addr=0.0"), deviceArgs(a));
        assertEquals("gpu0 (pci) needs PCIE; gpu1 (pci) needs PCIE; nic0 (pci) needs PCIE",
                QemuDevices.why(res, Machine.MICROVM_PVH, Machine.Q35_PVH));
    }

    @Test
    public void aTpmAndAGpuTogetherGetTheMachineThatHasBoth() {
        PreparedResources res = devices(pci("gpu0", "0000:01:00.0", false), tpm("tpm-tis", Set.of()));
        List<String> a = render(ZoneSpec.builder("web").device(DeviceSpec.pci("0000:01:00.0"))
                .device(DeviceSpec.of("tpm")).build(), FILES, IMAGE, res);
        assertEquals(Machine.Q35_FIRMWARE, machineFor(res));
        assertTrue(all(a, "-device").contains("vfio-pci,host=0000:01:00.0,id=gpu0,bus=rp0,addr=0.0"));
        assertTrue(all(a, "-device").contains("tpm-tis,tpmdev=tpmdev-tpm0,id=tpm0"));
    }

    @Test
    public void aConfiguredLeastMachineAppliesToZonesWithoutDevices() {
        QemuCommandLine q35 = new QemuCommandLine("qemu-system-x86_64", "tcg", OptionalLong.empty());
        ZoneSpec spec = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data")).build();
        Machine least = QemuDevices.machineFor(PreparedResources.NONE, Machine.Q35_PVH);
        assertEquals(Machine.Q35_PVH, least);
        List<String> a = q35.render(ID, "web", spec, FILES, IMAGE, PreparedResources.NONE, least);
        assertEquals("q35,sata=off,smbus=off,vmport=off", after(a, "-M"));
        assertEquals("/var/lib/zk/cache/kvm/vmlinux-x", after(a, "-kernel"));
        assertTrue(all(a, "-device").contains("virtio-serial-pci"));
        assertTrue(after(a, "-append"), after(a, "-append").contains("zk.features=power,vpci,channels "));
        assertEquals("configured machine=q35-pvh", QemuDevices.why(PreparedResources.NONE, Machine.Q35_PVH,
                Machine.Q35_PVH));
        // and devices still raise it
        assertEquals(Machine.Q35_FIRMWARE, QemuDevices.machineFor(devices(tpm("tpm-tis", Set.of())), Machine.Q35_PVH));
    }

    @Test
    public void machinesAreOrderedByWhatTheyOffer() {
        assertEquals(Machine.MICROVM_PVH, Machine.forNeeds(Set.of()));
        assertEquals(Machine.Q35_PVH, Machine.forNeeds(Set.of(PlatformNeed.PCIE)));
        assertEquals(Machine.Q35_FIRMWARE, Machine.forNeeds(Set.of(PlatformNeed.PCIE, PlatformNeed.FIRMWARE_ACPI)));
        assertEquals(Machine.Q35_FIRMWARE, Machine.Q35_FIRMWARE.atLeast(Machine.Q35_PVH));
        assertEquals(Machine.Q35_PVH, Machine.MICROVM_PVH.atLeast(Machine.Q35_PVH));
        assertEquals(Machine.Q35_PVH, Machine.parse("q35-pvh"));
        try {
            Machine.parse("pc");
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("microvm-pvh, q35-pvh, q35-firmware"));
        }
    }

    /** The -device arguments after the guest agent's port, which every zone has (QemuCommandLineTest checks it). */
    private static List<String> deviceArgs(List<String> a) {
        List<String> d = all(a, "-device");
        assertEquals(List.of("virtio-serial-pci", "virtserialport,chardev=agent,name=io.zonekeeper.agent"),
                d.subList(0, 2));
        return d.subList(2, d.size());
    }
}

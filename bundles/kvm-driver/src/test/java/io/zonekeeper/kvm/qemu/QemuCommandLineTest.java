package io.zonekeeper.kvm.qemu;

import static io.zonekeeper.kvm.qemu.CommandLines.FILES;
import static io.zonekeeper.kvm.qemu.CommandLines.ID;
import static io.zonekeeper.kvm.qemu.CommandLines.after;
import static io.zonekeeper.kvm.qemu.CommandLines.all;
import static io.zonekeeper.kvm.qemu.CommandLines.render;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;

public class QemuCommandLineTest {
    private static final BootImage IMAGE = new BootImage(Path.of("/boot/vmlinuz-6.1.0-56-amd64"),
            Path.of("/var/lib/zk/cache/kvm/vmlinux-x"), Path.of("/var/lib/zk/cache/kvm/initramfs-x.cpio.gz"), true,
            Set.of("power", "channels"), "6.1.0-56-amd64");

    /** The translation buffer's size is TCG's alone: KVM gets the host CPU and no tb-size anywhere. */
    @Test
    public void translationBufferSizeOnlyUnderTcg() {
        ZoneSpec spec = ZoneSpec.builder("web").memoryMiB(96).build();
        QemuCommandLine kvm = new QemuCommandLine("qemu-system-x86_64", QemuCommandLine.KVM,
                java.util.OptionalLong.empty());
        List<String> a = kvm.render(ID, "web", spec, FILES, IMAGE, PreparedResources.NONE,
                CommandLines.machineFor(PreparedResources.NONE));
        assertEquals("kvm", after(a, "-accel"));
        assertEquals("host", after(a, "-cpu"));
        assertFalse(a.toString(), a.stream().anyMatch(x -> x.contains("tb-size")));
        List<String> t = render(spec, FILES, IMAGE);
        assertEquals("tcg,tb-size=16", after(t, "-accel"));
        assertEquals(1, t.stream().filter(x -> x.contains("tb-size")).count());
    }

    @Test
    public void rendersTunedMicrovmUnderTcg() {
        ZoneSpec spec = ZoneSpec.builder("web").memoryMiB(96).vcpus(2).cmdline("zk.heartbeat=1").build();
        List<String> a = render(spec, FILES, IMAGE);
        assertEquals("qemu-system-x86_64", a.get(0));
        assertEquals("microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off", after(a, "-M"));
        assertEquals("tcg,tb-size=16", after(a, "-accel"));
        assertEquals("qemu64,+arat", after(a, "-cpu"));
        assertEquals("96M", after(a, "-m"));
        assertEquals("2", after(a, "-smp"));
        assertEquals(ID.toString(), after(a, "-uuid"));
        assertEquals("web", after(a, "-name"));
        assertTrue(a.contains("-nodefaults"));
        assertTrue(a.contains("-no-reboot"));
        assertFalse("the sandbox forbids -daemonize", a.contains("-daemonize"));
        assertEquals("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", after(a, "-sandbox"));
        assertEquals("unix:/var/lib/zk/zones/web/qmp.sock,server=on,wait=off", after(a, "-qmp"));
        assertEquals("/var/lib/zk/zones/web/qemu.pid", after(a, "-pidfile"));
        assertEquals(List.of("socket,id=console,path=/var/lib/zk/zones/web/console.sock,server=on,wait=off,"
                + "logfile=/var/lib/zk/zones/web/console.log,logappend=on",
                "socket,id=agent,path=/var/lib/zk/zones/web/agent.sock,server=on,wait=off"), all(a, "-chardev"));
        assertEquals("chardev:console", after(a, "-serial"));
        assertEquals("/var/lib/zk/cache/kvm/vmlinux-x", after(a, "-kernel"));
        assertEquals("/var/lib/zk/cache/kvm/initramfs-x.cpio.gz", after(a, "-initrd"));
        assertEquals("console=ttyS0 quiet panic=-1 tsc_early_khz=2096013 tsc=reliable no_timer_check"
                + " mitigations=off cryptomgr.notests rdinit=/init zk.name=web zk.features=power zk.heartbeat=1",
                after(a, "-append"));
        // Every zone gets the guest agent's port, held by QEMU on a socket in the zone's folder.
        assertEquals(List.of("virtio-serial-device", "virtserialport,chardev=agent,name=io.zonekeeper.agent"),
                all(a, "-device"));
    }

    /**
     * An idle zone's QEMU woke every 27.5 ms for the PIT channel QEMU resets to a square wave and Linux 6.1 leaves
     * running unused: microvm goes without a PIT, but only where the kernel gets the TSC frequency on its command
     * line (it calibrates the TSC against the PIT otherwise); q35 keeps it.
     */
    @Test
    public void microvmHasNoPitWhereTheKernelGetsTheTscFrequency() {
        ZoneSpec spec = ZoneSpec.builder("web").build();
        List<String> a = render(spec, FILES, IMAGE);
        assertTrue(after(a, "-M"), after(a, "-M").endsWith(",pit=off"));
        assertTrue(after(a, "-append"), after(a, "-append").contains("tsc_early_khz=2096013"));
        for (String accel : List.of("tcg", "kvm")) {
            List<String> noTsc = new QemuCommandLine("qemu-system-x86_64", accel, OptionalLong.empty()).render(ID,
                    "web", spec, FILES, IMAGE, PreparedResources.NONE, Machine.MICROVM_PVH);
            assertFalse(accel + ": " + after(noTsc, "-M"), after(noTsc, "-M").contains("pit"));
        }
        for (Machine m : List.of(Machine.Q35_PVH, Machine.Q35_FIRMWARE)) {
            List<String> q35 = new QemuCommandLine("qemu-system-x86_64", "tcg", OptionalLong.of(2096013)).render(ID,
                    "web", spec, FILES, IMAGE, PreparedResources.NONE, m);
            assertFalse(m + ": " + after(q35, "-M"), after(q35, "-M").contains("pit"));
        }
    }

    @Test
    public void kvmUsesHostCpuAndNoTranslationCache() {
        List<String> a = new QemuCommandLine("qemu-system-x86_64", "kvm", OptionalLong.empty())
                .render(ID, "web", ZoneSpec.builder("web").build(), FILES, IMAGE, PreparedResources.NONE,
                        Machine.MICROVM_PVH);
        assertEquals("kvm", after(a, "-accel"));
        assertEquals("host", after(a, "-cpu"));
        assertFalse(after(a, "-append").contains("tsc_early_khz"));
    }

    @Test
    public void hostChannelsBecomeVirtioSerialPortsOnQemuHeldSockets() {
        ZoneSpec spec = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data")).channel(ChannelSpec.toHost("log.1"))
                .build();
        List<String> a = render(spec, FILES, IMAGE);
        assertEquals(List.of("virtio-serial-device", "virtserialport,chardev=agent,name=io.zonekeeper.agent",
                "virtserialport,chardev=ch-data,name=data",
                "virtserialport,chardev=ch-log.1,name=log.1"), all(a, "-device"));
        assertTrue(all(a, "-chardev").contains(
                "socket,id=ch-data,path=/var/lib/zk/zones/web/channels/data.sock,server=on,wait=off"));
        String append = after(a, "-append");
        assertTrue(append, append.contains(" zk.features=power,channels zk.channels=data,log.1"));
    }

    /**
     * On microvm a zone with channels gets its virtio-serial bus on PCI (microvm's PCIe host bridge), where each
     * queue has QEMU's 128 entries rather than virtio-mmio's 1024: a port whose host side reads slowly can then hold
     * at most 4 MiB of the guest's memory, not 32 MiB (a 128 MiB guest ran out of memory that way). The rest stays
     * on virtio-mmio; a zone without channels, or whose image cannot load virtio_pci, is unchanged.
     */
    @Test
    public void channelsPutTheSerialBusOnPciSoAPortCannotHoldTheGuestsMemory() {
        BootImage withPci = new BootImage(IMAGE.kernel(), IMAGE.bootKernel(), IMAGE.initramfs(), true,
                Set.of("power", "agent", "channels", "vpci"), IMAGE.release());
        ZoneSpec spec = ZoneSpec.builder("web").channel(ChannelSpec.toHost("data")).build();
        List<String> a = render(spec, FILES, withPci);
        assertEquals("microvm,x-option-roms=off,isa-serial=on,rtc=on,pcie=on,pit=off", after(a, "-M"));
        assertEquals(List.of("virtio-serial-pci", "virtserialport,chardev=agent,name=io.zonekeeper.agent",
                "virtserialport,chardev=ch-data,name=data"), all(a, "-device"));
        assertTrue(after(a, "-append"), after(a, "-append").contains(" zk.features=power,vpci,agent,channels "));

        List<String> none = render(ZoneSpec.builder("web").build(), FILES, withPci);
        assertEquals("microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off", after(none, "-M"));
        assertEquals("virtio-serial-device", all(none, "-device").get(0));
        assertFalse(after(none, "-append").contains("vpci"));

        List<String> noPciGroup = render(spec, FILES, IMAGE);
        assertEquals("virtio-serial-device", all(noPciGroup, "-device").get(0));
        assertFalse(after(noPciGroup, "-M").contains("pcie"));
    }

    @Test
    public void readsHostFacts() {
        assertEquals(OptionalLong.of(2096013), HostInfo.tscKhz("processor\t: 0\ncpu MHz\t\t: 2096.013\n"));
        assertEquals(OptionalLong.empty(), HostInfo.tscKhz("processor\t: 0\n"));
        assertEquals(23703, HostInfo.memAvailableMiB("MemTotal: 1 kB\nMemAvailable:   24271948 kB\n"));
    }

    @Test
    public void provesQemuIdentityFromItsArguments() {
        List<String> argv = List.of("qemu-system-x86_64", "-M", "microvm", "-uuid", ID.toString());
        assertEquals(Optional.empty(), QemuProcess.whyNotQemuOf(argv, ID));
        assertTrue(QemuProcess.whyNotQemuOf(argv, UUID.randomUUID()).get().contains(ID.toString()));
        assertTrue(QemuProcess.whyNotQemuOf(List.of("/usr/bin/sleep", "-uuid", ID.toString()), ID).get()
                .contains("not QEMU"));
        assertTrue(QemuProcess.whyNotQemuOf(List.of(), ID).get().contains("gone"));
    }

    @Test
    public void rendersPreparedTapsAndDisksAndTellsTheInitWhatToConfigure() {
        BootImage image = new BootImage(IMAGE.kernel(), IMAGE.bootKernel(), IMAGE.initramfs(), true,
                Set.of("power", "channels", "net", "disk"), "6.1.0-56-amd64");
        ZoneSpec spec = ZoneSpec.builder("web").network(new NetworkAttachment("lan", null))
                .network(new NetworkAttachment("six", null))
                .disk(new DiskSpec("/var/lib/zk/disks/data.img", "raw", false))
                .disk(new DiskSpec("/var/lib/zk/disks/base.qcow2", "qcow2", true)).build();
        PreparedResources res = new PreparedResources(
                List.of(new PreparedNic("lan", "zkt0123456789a", "zkb-lan", "0a:11:22:33:44:55", "10.99.0.5/24",
                        "10.99.0.1"), new PreparedNic("six", "zkt0123456789b", "zkb-six", "0a:11:22:33:44:66",
                        "10.99.1.5/24", "10.99.1.1", "fd12:3456:789a:0:811:22ff:fe33:4466/64", "fd12:3456:789a::1")),
                List.of(new PreparedDisk("data", "/var/lib/zk/disks/data.img", "raw", false),
                        new PreparedDisk("base", "/var/lib/zk/disks/base.qcow2", "qcow2", true)));

        List<String> a = render(spec, FILES, image, res);

        assertEquals(List.of("tap,id=n0,ifname=zkt0123456789a,script=no,downscript=no",
                "tap,id=n1,ifname=zkt0123456789b,script=no,downscript=no"), all(a, "-netdev"));
        assertTrue(all(a, "-device").contains("virtio-net-device,netdev=n0,mac=0a:11:22:33:44:55"));
        assertEquals(List.of(), all(a, "-drive"));
        assertEquals(List.of(
                "{\"driver\":\"file\",\"node-name\":\"f0\",\"filename\":\"/var/lib/zk/disks/data.img\",\"read-only\":false}",
                "{\"driver\":\"raw\",\"node-name\":\"d0\",\"file\":\"f0\",\"read-only\":false}",
                "{\"driver\":\"file\",\"node-name\":\"f1\",\"filename\":\"/var/lib/zk/disks/base.qcow2\",\"read-only\":true}",
                "{\"driver\":\"qcow2\",\"node-name\":\"d1\",\"file\":\"f1\",\"read-only\":true,\"backing\":null}"),
                all(a, "-blockdev"));
        assertTrue(all(a, "-device").contains("virtio-blk-device,drive=d1,serial=zk-d1"));
        String append = after(a, "-append");
        assertTrue(append, append.contains("zk.features=power,net,disk"));
        assertTrue(append, append.contains("zk.nic=0a:11:22:33:44:55,10.99.0.5/24,10.99.0.1 "));
        assertTrue(append, append.contains("zk.nic=0a:11:22:33:44:66,10.99.1.5/24,10.99.1.1,"
                + "fd12:3456:789a:0:811:22ff:fe33:4466/64,fd12:3456:789a::1 "));
        assertTrue(append, append.contains("zk.disks=data:rw,base:ro"));
    }

    private static PreparedResources channels(PreparedChannel... c) {
        return new PreparedResources(List.of(), List.of(), List.of(), List.of(c));
    }

    @Test
    public void zoneToZoneChannelsListenOrConnectInTheFolderOfTheBrokersSocket() {
        String sock = "/var/lib/zk/channels/0123456789abcdef.sock";
        String meet = "/var/lib/zk/channels/0123456789abcdef.d/s";
        ZoneSpec a = ZoneSpec.builder("a").channel(new ChannelSpec("data", "b")).channel(ChannelSpec.toHost("log"))
                .build();
        List<String> listens = render(a, FILES, IMAGE, channels(new PreparedChannel("data", "b", sock,
                true)));
        assertTrue(all(listens, "-chardev").toString(), all(listens, "-chardev").containsAll(List.of(
                "socket,id=ch-data,path=" + meet + ",server=on,wait=off",
                "socket,id=ch-log,path=/var/lib/zk/zones/web/channels/log.sock,server=on,wait=off")));
        assertTrue(all(listens, "-device").contains("virtserialport,chardev=ch-data,name=data"));
        assertTrue(after(listens, "-append").contains(" zk.channels=data,log"));

        ZoneSpec b = ZoneSpec.builder("b").channel(new ChannelSpec("data", "a")).build();
        List<String> connects = render(b, FILES, IMAGE, channels(new PreparedChannel("data", "a", sock,
                false)));
        assertTrue(all(connects, "-chardev").toString(), all(connects, "-chardev").contains(
                "socket,id=ch-data,path=" + meet + ",reconnect=1"));
    }

    @Test
    public void anImageZoneGetsItsImageAndWorkloadAsReadOnlyRawDisksAndOnlyAFlagOnTheCommandLine() {
        BootImage image = new BootImage(Path.of("/boot/vmlinuz-6.1.0-56-amd64"), Path.of("/c/vmlinux"),
                Path.of("/c/initramfs.cpio.gz"), true, Set.of("power", "agent", "image"), "6.1.0-56-amd64");
        ZoneSpec spec = ZoneSpec.builder("web").image("web:1").workload(new io.zonekeeper.api.WorkloadSpec(
                List.of("sh", "-c", "echo $HOME zk.run=x"), List.of(), "", "")).build();
        io.zonekeeper.kvm.image.ImageRoot root = new io.zonekeeper.kvm.image.ImageRoot(
                Path.of("/var/lib/zk/images/ab/rootfs.squashfs"), FILES.workloadFile());
        List<String> a = new QemuCommandLine("qemu-system-x86_64", "tcg", OptionalLong.empty()).render(ID, "web",
                spec, FILES, image, PreparedResources.NONE, CommandLines.machineFor(PreparedResources.NONE), root);
        List<String> blockdevs = all(a, "-blockdev");
        assertTrue(blockdevs.toString(), blockdevs.contains("{\"driver\":\"file\",\"node-name\":\"imgf\","
                + "\"filename\":\"/var/lib/zk/images/ab/rootfs.squashfs\",\"read-only\":true}"));
        assertTrue(blockdevs.toString(), blockdevs.contains("{\"driver\":\"raw\",\"node-name\":\"wl\","
                + "\"file\":\"wlf\",\"read-only\":true}"));
        assertTrue(all(a, "-device").stream().anyMatch(d -> d.endsWith(",drive=img,serial=zk-image")));
        assertTrue(all(a, "-device").stream().anyMatch(d -> d.endsWith(",drive=wl,serial=zk-workload")));
        String cmdline = after(a, "-append");
        assertTrue(cmdline, cmdline.contains(" zk.image=1") && cmdline.contains("zk.features=power,agent,image"));
        assertFalse("the workload never travels on the command line: " + cmdline, cmdline.contains("HOME"));
        // Its output has a port of its own, which QEMU appends to workload.log: never to the kernel's console.
        assertTrue(all(a, "-chardev").toString(), all(a, "-chardev").contains(
                "file,id=workload,path=/var/lib/zk/zones/web/workload.log,append=on"));
        assertTrue(all(a, "-device").toString(), all(a, "-device").contains(
                "virtserialport,chardev=workload,name=io.zonekeeper.workload"));
    }

    @Test
    public void aZoneWithoutAnImageHasNoWorkloadPort() {
        List<String> a = render(ZoneSpec.builder("web").build(), FILES, IMAGE);
        assertFalse(a.toString(), a.stream().anyMatch(s -> s.contains("workload")));
    }
}

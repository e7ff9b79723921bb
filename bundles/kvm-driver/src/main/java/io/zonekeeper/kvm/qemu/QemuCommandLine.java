package io.zonekeeper.kvm.qemu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.stream.Collectors;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.guest.AgentEndpoint;
import io.zonekeeper.guest.WorkloadLog;
import io.zonekeeper.kvm.image.ImageRoot;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;
import jakarta.json.Json;
import jakarta.json.JsonObjectBuilder;

/**
 * Renders a zone into QEMU arguments: the microvm machine booting the kernel through its PVH entry, tuned as
 * measured on this kind of host (docs: shared/labs/KVM.md), in the full seccomp sandbox, with QMP, a pidfile, a
 * serial console that is both a log file and a socket, the guest agent's virtio-serial port, an image zone's workload
 * output port (a file), one per channel, one virtio-net device
 * per prepared tap and one virtio-blk device per prepared disk (two {@code -blockdev} nodes, format explicit). A zone whose prepared devices need more gets the
 * {@link Machine} its start plan chose (q35, booting through firmware where ACPI tables must come from it), with
 * the same virtio devices on PCI, and its devices rendered by {@link QemuDevices}. Pure: it reads nothing, starts
 * nothing and checks nothing; it renders only what {@link StartChecks} passed.
 */
public final class QemuCommandLine {
    public static final String TCG = "tcg";
    public static final String KVM = "kvm";
    /**
     * TCG's translation buffer, in MiB; QEMU 7.2's default is far larger, and a zone keeps all of it it has touched.
     * An idle 96 MiB zone's QEMU, plain QEMU with these arguments, three alternating rounds (2026-12-02, load 9-14):
     * RSS 245 MiB with the default, 233 with 32, 213-216 with 16, 210-212 with 12, 206 with 8; the CPU time its boot
     * took to the ready line: 2.2-2.5 s with 32, 2.3-2.8 s with 16, but 2.9-5.1 s with 12 and 4.7-5.8 s with 8,
     * which retranslate the boot's code over and over. Against the default in two more alternating rounds (load 7):
     * 2.1-2.3 s against 2.5 s with 16, so 16 buys 30 MiB per zone for about 0.2-0.4 s of boot CPU. Never passed to
     * KVM, which translates nothing.
     */
    static final int TCG_TB_MIB = 16;

    private final String qemuBinary;
    private final String accel;
    private final OptionalLong tscKhz;

    public QemuCommandLine(String qemuBinary, String accel, OptionalLong tscKhz) {
        if (!TCG.equals(accel) && !KVM.equals(accel)) {
            throw new IllegalArgumentException("accel must be kvm or tcg: " + accel);
        }
        this.qemuBinary = qemuBinary;
        this.accel = accel;
        this.tscKhz = tscKhz;
    }

    /** The whole argument list, QEMU binary first, for a zone that passed {@link StartChecks}. */
    public List<String> render(UUID id, String name, ZoneSpec spec, ZoneFiles files, BootImage image,
            PreparedResources res, Machine machine) {
        return render(id, name, spec, files, image, res, machine, null);
    }

    /** The same, for an image zone when {@code root} is not null: its image and workload as two read-only disks. */
    public List<String> render(UUID id, String name, ZoneSpec spec, ZoneFiles files, BootImage image,
            PreparedResources res, Machine machine, ImageRoot root) {
        List<String> a = new ArrayList<>();
        a.add(qemuBinary);
        boolean serialOnPci = machine.serialOnPci(!spec.channels().isEmpty(), zoneInitWithPci(image));
        a.addAll(List.of("-M", machine.qemuMachine(serialOnPci) + pitOff(machine)));
        if (KVM.equals(accel)) {
            a.addAll(List.of("-accel", "kvm", "-cpu", "host"));
        } else {
            // +arat: without it an idle guest costs 6-7 times more host CPU under TCG.
            a.addAll(List.of("-accel", "tcg,tb-size=" + TCG_TB_MIB, "-cpu", "qemu64,+arat"));
        }
        a.addAll(List.of("-m", spec.memoryMiB() + "M", "-smp", String.valueOf(spec.vcpus())));
        a.addAll(List.of("-nodefaults", "-no-reboot", "-display", "none"));
        a.addAll(List.of("-name", name, "-uuid", id.toString()));
        // -daemonize would conflict with this sandbox; the driver uses setsid instead.
        a.addAll(List.of("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
        a.addAll(List.of("-qmp", "unix:" + files.qmpSocket() + ",server=on,wait=off"));
        a.addAll(List.of("-pidfile", files.pidFile().toString()));
        a.addAll(List.of("-chardev", "socket,id=console,path=" + files.consoleSocket() + ",server=on,wait=off,logfile="
                + files.consoleLog() + ",logappend=on", "-serial", "chardev:console"));
        // One virtio-serial bus for the guest agent's port and the channels. QEMU holds the agent's socket, so an
        // exec outlives the JVM and driver upgrades; the agent in the guest finds its port by name.
        // Its queues bound the guest memory each port can hold (Machine.serialOnPci): on PCI for a zone with channels.
        a.addAll(List.of("-device", machine.serialDevice(serialOnPci)));
        a.addAll(List.of("-chardev", "socket,id=agent,path=" + files.agentSocket() + ",server=on,wait=off",
                "-device", "virtserialport,chardev=agent,name=" + AgentEndpoint.KVM_PORT_NAME));
        if (root != null) {
            // The workload's output goes to a file QEMU appends to (O_APPEND, so the driver's copy-truncate leaves no
            // hole): a file backend is always connected, so a workload never blocks on its output while no appliance
            // runs, and nothing of it mixes with the kernel's lines on the console.
            a.addAll(List.of("-chardev", "file,id=workload,path=" + files.workloadLog() + ",append=on",
                    "-device", "virtserialport,chardev=workload,name=" + WorkloadLog.KVM_PORT_NAME));
        }
        if (!spec.channels().isEmpty()) {
            for (ChannelSpec c : spec.channels()) {
                a.addAll(List.of("-chardev", channelBackend(c, files, res), "-device", "virtserialport,chardev=ch-"
                        + c.name() + ",name=" + c.name()));
            }
        }
        for (int i = 0; i < res.nics().size(); i++) {
            PreparedNic n = res.nics().get(i);
            // The appliance made the tap and enslaved it: QEMU only opens it, and runs no helper script.
            a.addAll(List.of("-netdev", "tap,id=n" + i + ",ifname=" + n.tapDevice() + ",script=no,downscript=no",
                    // romfile= : no iPXE option ROM on q35; the kernel is loaded directly, nothing boots from the net.
                    "-device", machine.virtio("net") + ",netdev=n" + i + ",mac=" + n.mac()
                            + (machine.pci() ? ",romfile=" : "")));
        }
        for (int i = 0; i < res.disks().size(); i++) {
            PreparedDisk d = res.disks().get(i);
            // The serial tells the zone init which block device is which disk, whatever order they probe in.
            a.addAll(blockdevs(d, i));
            a.addAll(List.of("-device", machine.virtio("blk") + ",drive=d" + i + ",serial=zk-d" + i));
        }
        if (root != null) {
            a.addAll(blockdevs("imgf", "img", root.rootfs().toString(), "raw", true));
            a.addAll(List.of("-device", machine.virtio("blk") + ",drive=img,serial=" + ImageRoot.IMAGE_SERIAL));
            a.addAll(blockdevs("wlf", "wl", root.workload().toString(), "raw", true));
            a.addAll(List.of("-device", machine.virtio("blk") + ",drive=wl,serial=" + ImageRoot.WORKLOAD_SERIAL));
        }
        a.addAll(QemuDevices.render(res.devices()));
        // Through firmware the bzImage boots as a PC kernel does (SeaBIOS runs its real-mode entry); otherwise QEMU
        // enters the vmlinux at its PVH entry and no firmware runs before it.
        Path kernel = machine.firmware() ? image.kernel() : image.bootKernel();
        a.addAll(List.of("-kernel", kernel.toString(), "-initrd", image.initramfs().toString()));
        a.addAll(List.of("-append", kernelCmdline(name, spec, image, res, machine, root != null)));
        return a;
    }

    /**
     * A disk as two block nodes: the file {@code fN} and, on it, the format node {@code dN} the device uses. The format
     * is the one the appliance recorded, never probed; a qcow2 node gets {@code "backing": null}, so QEMU opens no
     * backing file whatever the image's header names. JSON syntax, because the key=value syntax has no null (and
     * splits at commas, which a path may hold).
     */
    static List<String> blockdevs(PreparedDisk d, int i) {
        return blockdevs("f" + i, "d" + i, d.path(), d.format(), d.readOnly());
    }

    private static List<String> blockdevs(String fileNode, String formatNode, String path, String formatName,
            boolean readOnly) {
        JsonObjectBuilder format = Json.createObjectBuilder().add("driver", formatName).add("node-name", formatNode)
                .add("file", fileNode).add("read-only", readOnly);
        if (!"raw".equals(formatName)) {
            format.addNull("backing");
        }
        return List.of("-blockdev", Json.createObjectBuilder().add("driver", "file").add("node-name", fileNode)
                .add("filename", path).add("read-only", readOnly).build().toString(),
                "-blockdev", format.build().toString());
    }

    /**
     * A channel's chardev. A host channel: QEMU listens on a socket in the zone's folder. A zone-to-zone channel: the
     * socket zone-core's channel broker arranged, where one zone's QEMU listens and the other's connects and tries
     * again every second, so that either may start first or restart. Either way QEMU holds the socket: no process of
     * ours is in the path, and the channel outlives the JVM and driver upgrades.
     */
    static String channelBackend(ChannelSpec c, ZoneFiles files, PreparedResources res) {
        PreparedChannel p = c.peer() == null ? null : res.channel(c.name());
        if (p == null) {
            return "socket,id=ch-" + c.name() + ",path=" + files.channelSocket(c.name()) + ",server=on,wait=off";
        }
        return "socket,id=ch-" + c.name() + ",path=" + Rendezvous.socket(p) + (p.listens() ? ",server=on,wait=off"
                : RECONNECT);
    }

    /**
     * {@code ,pit=off} for microvm when the guest gets its TSC frequency on the command line. QEMU resets the i8254's
     * channel 0 to a square wave of 65536 counts, and Linux 6.1 with a local APIC timer never touches it (its PIT
     * clockevent is not used, so never shut down; later kernels stop it, "x86/i8253: Disable PIT timer 0 when not in
     * use"): QEMU's main loop then woke every 27.5 ms for each edge of an interrupt nobody listens to, 73 of the 80
     * wake-ups a second of an idle zone's QEMU (strace, 2026-12-03; 436 against 12 ppoll calls in 5 s with and without
     * it). Without a PIT the kernel cannot calibrate the TSC against it ("Fast TSC calibration failed"), so only
     * where tsc_early_khz gives the frequency; q35 keeps its PIT (firmware uses it).
     */
    private String pitOff(Machine machine) {
        return machine == Machine.MICROVM_PVH && tscKhz.isPresent() ? ",pit=off" : "";
    }

    /** Whether the image's zone init can load virtio_pci (its {@code vpci} group), for a serial bus on PCI. */
    private static boolean zoneInitWithPci(BootImage image) {
        return image.zoneInit() && image.features().contains("vpci");
    }

    /** How a connecting channel's chardev ends: QEMU tries again every second. */
    public static final String RECONNECT = ",reconnect=1";
    /**
     * The guest kernel's command line. Networks: one {@code zk.nic=MAC,ADDRESS/PREFIX,GATEWAY} per interface, with
     * {@code ,ADDRESS6/64,GATEWAY6} after it on a network with IPv6 (the init finds the interface by its MAC, so
     * the order the devices probe in does not matter). Disks:
     * {@code zk.disks=NAME:rw,NAME:ro} in device order, matched to block devices by their serial {@code zk-dN}.
     */
    private String kernelCmdline(String name, ZoneSpec spec, BootImage image, PreparedResources res, Machine machine,
            boolean imageZone) {
        StringJoiner k = new StringJoiner(" ");
        k.add("console=ttyS0").add("quiet").add("panic=-1");
        // Some microvm boots hung at "tsc: Marking TSC unstable" without the early TSC frequency.
        tscKhz.ifPresent(khz -> k.add("tsc_early_khz=" + khz));
        k.add("tsc=reliable").add("no_timer_check").add("mitigations=off").add("cryptomgr.notests");
        k.add("rdinit=/init").add("zk.name=" + name);
        if (image.zoneInit()) {
            List<String> features = new ArrayList<>();
            if (image.features().contains("power")) {
                features.add("power");
            }
            boolean agent = image.features().contains("agent");
            // The agent's port is virtio too: on PCI the zone needs virtio_pci for it alone.
            if (machine.pci() && (agent || StartChecks.usesVirtio(spec, res))) {
                features.add(machine.transportFeature());
            } else if (!machine.pci() && machine.serialOnPci(!spec.channels().isEmpty(), zoneInitWithPci(image))) {
                features.add("vpci"); // microvm with its virtio-serial bus on PCI
            }
            if (agent) {
                features.add("agent");
            }
            if (!spec.channels().isEmpty()) {
                features.add("channels");
            }
            if (!res.nics().isEmpty()) {
                features.add("net");
            }
            if (!res.disks().isEmpty()) {
                features.add("disk");
            }
            if (imageZone) {
                features.add("image");
            }
            // The TPM drivers are built into Debian's kernel; where they are modules, the init loads them here.
            if (image.features().contains("tpm")
                    && res.devices().stream().anyMatch(d -> QemuDevices.TPM.equals(d.type()))) {
                features.add("tpm");
            }
            if (!features.isEmpty()) {
                k.add("zk.features=" + String.join(",", features));
            }
        }
        if (!spec.channels().isEmpty()) {
            k.add("zk.channels=" + spec.channels().stream().map(ChannelSpec::name).collect(Collectors.joining(",")));
        }
        for (PreparedNic n : res.nics()) {
            k.add("zk.nic=" + n.mac() + "," + n.address() + "," + n.gateway()
                    + (n.address6() == null ? "" : "," + n.address6() + "," + n.gateway6()));
        }
        if (!res.disks().isEmpty()) {
            k.add("zk.disks=" + res.disks().stream().map(d -> d.name() + (d.readOnly() ? ":ro" : ":rw"))
                    .collect(Collectors.joining(",")));
        }
        if (imageZone) {
            // Only a flag: the workload itself comes on its own disk, never on this line.
            k.add("zk.image=1");
        }
        if (!spec.cmdline().isBlank()) {
            k.add(spec.cmdline().trim());
        }
        return k.toString();
    }
}

package io.zonekeeper.kvm.qemu;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.stream.Collectors;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.DriverException;

/**
 * Renders a zone into QEMU arguments: the microvm machine booting the kernel through its PVH entry, tuned as
 * measured on this kind of host (docs: shared/labs/KVM.md), in the full seccomp sandbox, with QMP, a pidfile, a
 * serial console that is both a log file and a socket, and one virtio-serial port per channel. Pure: it reads
 * nothing and starts nothing. Whatever of a spec it cannot render, it refuses by name.
 */
public final class QemuCommandLine {
    public static final String TCG = "tcg";
    public static final String KVM = "kvm";

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

    /** Throws a DriverException naming each field of {@code spec} this driver cannot honour yet. */
    public static void checkSupported(ZoneSpec spec, BootImage image) throws DriverException {
        List<FieldError> errors = new ArrayList<>(spec.validate());
        if (!spec.devices().isEmpty()) {
            errors.add(new FieldError("devices", "PCI passthrough is not supported by the kvm driver yet"));
        }
        if (!spec.networks().isEmpty()) {
            errors.add(new FieldError("networks", "networks are not supported by the kvm driver yet"));
        }
        if (!spec.disks().isEmpty()) {
            errors.add(new FieldError("disks", "disks are not supported by the kvm driver yet"));
        }
        for (int i = 0; i < spec.channels().size(); i++) {
            ChannelSpec c = spec.channels().get(i);
            if (c.peer() != null) {
                errors.add(new FieldError("channels[" + i + "].peer",
                        "zone-to-zone channels are not supported by the kvm driver yet; use a host channel"));
            }
        }
        if (image != null && image.zoneInit() && !spec.channels().isEmpty()
                && !image.features().contains("channels")) {
            errors.add(new FieldError("channels", "kernel " + image.kernel() + " has no virtio_console module in"
                    + " /lib/modules/" + image.release() + ", so its zones cannot have channels"));
        }
        if (!errors.isEmpty()) {
            throw new DriverException("zone " + spec.name() + " cannot run on the kvm driver: "
                    + errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        }
    }

    /** Throws when a socket path is too long for a Unix socket, saying which and what to do. */
    public static void checkSocketPaths(ZoneSpec spec, ZoneFiles files) throws DriverException {
        List<Path> sockets = new ArrayList<>(List.of(files.qmpSocket(), files.consoleSocket()));
        spec.channels().forEach(c -> sockets.add(files.channelSocket(c.name())));
        for (Path p : sockets) {
            int len = p.toString().getBytes(StandardCharsets.UTF_8).length;
            if (len > ZoneFiles.MAX_SOCKET_PATH) {
                throw new DriverException("socket path " + p + " is " + len + " bytes, but a Unix socket path may"
                        + " have at most " + ZoneFiles.MAX_SOCKET_PATH + ": use a shorter state directory"
                        + " (zonekeeper.state) or a shorter channel name");
            }
        }
    }

    /** The whole argument list, QEMU binary first. */
    public List<String> render(UUID id, String name, ZoneSpec spec, ZoneFiles files, BootImage image)
            throws DriverException {
        checkSupported(spec, image);
        checkSocketPaths(spec, files);
        List<String> a = new ArrayList<>();
        a.add(qemuBinary);
        a.addAll(List.of("-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on"));
        if (KVM.equals(accel)) {
            a.addAll(List.of("-accel", "kvm", "-cpu", "host"));
        } else {
            // +arat: without it an idle guest costs 6-7 times more host CPU under TCG.
            a.addAll(List.of("-accel", "tcg,tb-size=16", "-cpu", "qemu64,+arat"));
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
        if (!spec.channels().isEmpty()) {
            a.addAll(List.of("-device", "virtio-serial-device"));
            for (ChannelSpec c : spec.channels()) {
                // QEMU holds the listening socket, so the channel outlives the JVM and survives driver upgrades.
                a.addAll(List.of("-chardev", "socket,id=ch-" + c.name() + ",path=" + files.channelSocket(c.name())
                        + ",server=on,wait=off", "-device", "virtserialport,chardev=ch-" + c.name() + ",name="
                        + c.name()));
            }
        }
        a.addAll(List.of("-kernel", image.bootKernel().toString(), "-initrd", image.initramfs().toString()));
        a.addAll(List.of("-append", kernelCmdline(name, spec, image)));
        return a;
    }

    /** The guest kernel's command line: what the tuned boot and the zone init need, then the spec's own. */
    public String kernelCmdline(String name, ZoneSpec spec, BootImage image) {
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
            if (!spec.channels().isEmpty()) {
                features.add("channels");
            }
            if (!features.isEmpty()) {
                k.add("zk.features=" + String.join(",", features));
            }
        }
        if (!spec.channels().isEmpty()) {
            k.add("zk.channels=" + spec.channels().stream().map(ChannelSpec::name).collect(Collectors.joining(",")));
        }
        if (!spec.cmdline().isBlank()) {
            k.add(spec.cmdline().trim());
        }
        return k.toString();
    }
}

package io.zonekeeper.kvm.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.image.KernelFootprint;
import io.zonekeeper.kvm.image.ZoneImages;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;

/**
 * Every reason a zone cannot start on the kvm driver, each asked once per start. Two groups, because the zone image
 * is worth building only for a zone that can run at all: {@link #beforeImage} needs the spec, what the appliance
 * prepared and the host; {@link #ofImage} needs the kernel the image was built from. Whatever {@link QemuCommandLine}
 * renders has passed both, so that nothing reaches QEMU's option parser unchecked (QEMU reads commas as separators).
 */
public final class StartChecks {
    private StartChecks() {
    }

    /**
     * The spec's own fields, what the appliance prepared for them (taps, disks, devices, zone-to-zone channels), the
     * length of each socket path in the zone's folder, and what the host can give.
     */
    public static List<FieldError> beforeImage(ZoneSpec spec, PreparedResources res, ZoneFiles files,
            HostInfo.Facts host) {
        List<FieldError> errors = new ArrayList<>(spec.validate());
        errors.addAll(prepared(spec, res));
        errors.addAll(QemuDevices.check(spec, res));
        socketPaths(spec, files, errors);
        if (host.memAvailableMiB() >= 0 && spec.memoryMiB() > host.memAvailableMiB()) {
            errors.add(new FieldError("memoryMiB", spec.memoryMiB() + " MiB asked, but the host has only "
                    + host.memAvailableMiB() + " MiB available (MemAvailable); give the zone less or free some"));
        }
        if (spec.vcpus() > host.cores()) {
            errors.add(new FieldError("vcpus", spec.vcpus() + " asked, but the host has " + host.cores()
                    + " cores; the kvm driver gives a zone at most one vCPU per host core"));
        }
        return errors;
    }

    /**
     * What the zone's kernel must have: the modules of each virtio device the zone gets (their transport too, on a
     * PCI machine), and a bzImage where the machine boots through firmware.
     */
    public static List<FieldError> ofImage(ZoneSpec spec, PreparedResources res, BootImage image, Machine machine) {
        List<FieldError> errors = new ArrayList<>();
        if (image.zoneInit()) {
            needModule(image, "channels", !spec.channels().isEmpty(), "channels", "virtio_console", errors);
            needModule(image, "net", !spec.networks().isEmpty(), "networks", "virtio_net", errors);
            needModule(image, "disk", !spec.disks().isEmpty(), "disks", "virtio_blk or ext4", errors);
            needModule(image, "image", spec.image() != null, "image", "virtio_blk, squashfs or overlay", errors);
            if (usesVirtio(spec, res) && machine.pci() && !image.features().contains(machine.transportFeature())) {
                errors.add(new FieldError("machine", "the zone's devices need the " + machine.id() + " machine,"
                        + " where virtio is on PCI, but kernel " + image.kernel() + " has no virtio_pci module in"
                        + " /lib/modules/" + image.release()));
            }
        }
        if (spec.image() != null && !image.zoneInit()) {
            errors.add(new FieldError("image", "an image zone needs the driver's zone init, but its initramfs is "
                    + image.initramfs()));
        }
        memoryFloor(spec, image.kernel(), machine.firmware() ? image.kernel() : image.bootKernel(), image.initramfs(),
                errors);
        if (machine.firmware()) {
            try {
                if (!ZoneImages.isBzImage(image.kernel())) {
                    errors.add(new FieldError("kernel", "the zone needs the " + machine.id() + " machine (its"
                            + " devices need ACPI tables from firmware), which boots a bzImage, but kernel "
                            + image.kernel() + " is not one; name a vmlinuz (bzImage) as its kernel"));
                }
            } catch (IOException e) {
                errors.add(new FieldError("kernel", "cannot read " + image.kernel() + ": " + e.getMessage()));
            }
        }
        return errors;
    }

    /**
     * Refuses memory below what the booted kernel and the initramfs take before the kernel runs anything
     * ({@link KernelFootprint}): such a zone would start, never print its ready line, and hold its memory until
     * stopped.
     * A kernel whose footprint cannot be read is left to QEMU. {@code named} is the kernel as the operator knows it,
     * {@code booted} the file QEMU boots (the vmlinux extracted from it, for PVH).
     */
    static void memoryFloor(ZoneSpec spec, Path named, Path booted, Path initramfs, List<FieldError> errors) {
        KernelFootprint.tooLittle(spec.memoryMiB(), named, booted, initramfs)
                .ifPresent(why -> errors.add(new FieldError("memoryMiB", why)));
    }

    /** Throws, naming every one of {@code errors}, unless there are none. */
    public static void refuseUnlessEmpty(ZoneSpec spec, List<FieldError> errors) throws DriverException {
        if (!errors.isEmpty()) {
            throw new DriverException("zone " + spec.name() + " cannot run on the kvm driver: "
                    + errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        }
    }

    /** Whether the zone gets any virtio device besides its console. */
    static boolean usesVirtio(ZoneSpec spec, PreparedResources res) {
        return !spec.channels().isEmpty() || !res.nics().isEmpty() || !res.disks().isEmpty() || spec.image() != null;
    }

    private static void needModule(BootImage image, String feature, boolean wanted, String field, String module,
            List<FieldError> errors) {
        if (wanted && !image.features().contains(feature)) {
            errors.add(new FieldError(field, "kernel " + image.kernel() + " has no " + module + " module in"
                    + " /lib/modules/" + image.release() + ", so its zones cannot have " + field));
        }
    }

    /** Why the networks, disks and zone-to-zone channels prepared for {@code spec} cannot be rendered, if they cannot. */
    static List<FieldError> prepared(ZoneSpec spec, PreparedResources res) {
        List<FieldError> errors = new ArrayList<>();
        if (res.nics().size() != spec.networks().size()) {
            errors.add(new FieldError("networks", spec.networks().size() + " named but " + res.nics().size()
                    + " tap device(s) prepared: the appliance makes them (install the zonekeeper-network feature)"));
        }
        if (res.disks().size() != spec.disks().size()) {
            errors.add(new FieldError("disks", spec.disks().size() + " named but " + res.disks().size()
                    + " prepared: the appliance checks and locks them (install the zonekeeper-network feature)"));
        }
        for (int i = 0; i < spec.channels().size(); i++) {
            ChannelSpec c = spec.channels().get(i);
            if (c.peer() == null) {
                continue;
            }
            PreparedChannel p = res.channel(c.name());
            if (p == null || !c.peer().equals(p.peer())) {
                errors.add(new FieldError("channels[" + i + "].peer", "channel " + c.name() + " to zone " + c.peer()
                        + " was not arranged: zone-core's channel broker pairs zone-to-zone channels"));
            } else if (p.socket().contains(",") || p.socket().getBytes(StandardCharsets.UTF_8).length
                    > ZoneFiles.MAX_SOCKET_PATH) {
                errors.add(new FieldError("channels[" + i + "]", "socket " + p.socket() + " cannot be a QEMU chardev"
                        + " path (a comma, or longer than " + ZoneFiles.MAX_SOCKET_PATH + " bytes)"));
            }
        }
        for (int i = 0; i < res.disks().size(); i++) {
            PreparedDisk d = res.disks().get(i);
            // -blockdev in JSON carries any path, commas included; only the two formats the appliance records pass.
            if (!List.of("raw", "qcow2").contains(d.format())) {
                errors.add(new FieldError("disks[" + i + "].format", d.path() + " (" + d.format() + ") cannot be a "
                        + "QEMU drive"));
            }
        }
        for (PreparedNic n : res.nics()) {
            if (!n.tapDevice().matches("[A-Za-z0-9_.-]{1,15}") || !n.mac().matches("([0-9a-f]{2}:){5}[0-9a-f]{2}")) {
                errors.add(new FieldError("networks", "tap " + n.tapDevice() + " or MAC " + n.mac()
                        + " cannot be a QEMU netdev"));
            }
        }
        return errors;
    }

    /** Each socket QEMU makes in the zone's folder fits in a Unix socket path. */
    private static void socketPaths(ZoneSpec spec, ZoneFiles files, List<FieldError> errors) {
        List<Path> sockets = new ArrayList<>(List.of(files.qmpSocket(), files.consoleSocket(), files.agentSocket()));
        spec.channels().stream().filter(c -> c.peer() == null).forEach(c -> sockets.add(files.channelSocket(c.name())));
        for (Path p : sockets) {
            int len = p.toString().getBytes(StandardCharsets.UTF_8).length;
            if (len > ZoneFiles.MAX_SOCKET_PATH) {
                errors.add(new FieldError("directory", "socket path " + p + " is " + len + " bytes, but a Unix"
                        + " socket path may have at most " + ZoneFiles.MAX_SOCKET_PATH + ": use a shorter state"
                        + " directory (zonekeeper.state) or a shorter channel name"));
            }
        }
    }
}

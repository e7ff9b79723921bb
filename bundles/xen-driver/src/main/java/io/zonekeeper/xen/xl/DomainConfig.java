package io.zonekeeper.xen.xl;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.image.KernelFootprint;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.xen.image.ZoneImage;

/**
 * Renders a zone into an xl domain config file (xl.cfg(5)), which xl hands to libxl. Pure: it reads nothing and
 * starts nothing. Whatever of a spec it cannot render, it refuses by field name before xl is ever called.
 *
 * <p>The guest type is PV unless the zone asks for PVH with the label {@value #TYPE_LABEL}{@code =pvh} (or the
 * driver's configured default says otherwise). PV boots the Debian kernel as it is; PVH needs hardware-assisted
 * paging (the nested lab gets it from QEMU's emulated NPT, {@code -cpu qemu64,+svm,+npt}), and there both reached
 * their marker in about 20 s.
 *
 * <p>The domain's uuid is the zone's id: Xen keeps it, the guest cannot change it, and it is what adoption checks.
 *
 * <p>Networks and disks come prepared by the appliance ({@link PreparedResources}) and are rendered as a {@code vif}
 * per network (netback in dom0, on the network's bridge, with the lease's MAC) and a {@code disk} per image (blkback
 * on a loop device, raw images only), each with the driver's own hotplug script (see {@code HotplugScripts}).
 *
 * <p>An image zone ({@code image} in the spec) gets two more disks, read-only and after the spec's: the image's
 * squashfs as {@value #IMAGE_VDEV} and its workload file as {@value #WORKLOAD_VDEV}, where the zone init looks for
 * them (blkfront has no disk serials), and {@code zk.image=1}; its guest agent serves a vchan after the channels'.
 */
public final class DomainConfig {
    /** The spec label that picks the guest type: {@code pv} or {@code pvh}. */
    public static final String TYPE_LABEL = "xen.type";
    public static final String PV = "pv";
    public static final String PVH = "pvh";
    /** One vdev letter per disk, xvda to xvdz. */
    public static final int MAX_DISKS = 26;
    /** An image zone's disks: the image's squashfs and the workload file, the last two vdevs. */
    public static final String IMAGE_VDEV = "xvdy";
    public static final String WORKLOAD_VDEV = "xvdz";
    /** The spec's disks of an image zone: those before {@link #IMAGE_VDEV}. */
    public static final int MAX_IMAGE_ZONE_DISKS = 24;

    /**
     * An image zone's root, as the zone init finds it.
     *
     * @param rootfs   the image's squashfs, from the image store
     * @param workload the workload file the driver wrote ({@code io.zonekeeper.image.ImageWorkload#encode})
     */
    public record ImageDisks(Path rootfs, Path workload) {
    }

    /**
     * What a zone boots.
     *
     * @param kernel   the kernel file
     * @param ramdisk  the initramfs file
     * @param zoneInit true when the ramdisk is the driver's own, which runs Zonekeeper's zone init
     * @param features the module groups the zone init can load ({@code net}, {@code disk}, {@code vchan})
     * @param missing  the groups the driver's ramdisk lacks, each with the reason
     */
    public record BootFiles(Path kernel, Path ramdisk, boolean zoneInit, Set<String> features,
            Map<String, String> missing) {
        public BootFiles {
            features = Set.copyOf(features);
            missing = Map.copyOf(missing);
        }

        /** An initramfs of the zone's own: the zone init's features do not apply. */
        public BootFiles(Path kernel, Path ramdisk, boolean zoneInit) {
            this(kernel, ramdisk, zoneInit, Set.of(), Map.of());
        }
    }

    /**
     * How devices reach their backends in dom0.
     *
     * @param vifScript   the hotplug script of network interfaces
     * @param blockScript the hotplug script of disks
     * @param linkExists  whether a host network interface of that name exists already
     */
    public record Backends(Path vifScript, Path blockScript, Predicate<String> linkExists) {
    }

    private DomainConfig() {
    }

    /** The guest type the zone asks for, or {@code defaultType}. */
    public static String guestType(ZoneSpec spec, String defaultType) {
        String t = spec.labels().get(TYPE_LABEL);
        return t == null ? defaultType : t;
    }

    /** Every field of {@code spec} this driver cannot honour, the spec's own errors first. */
    public static List<FieldError> unsupported(ZoneSpec spec) {
        List<FieldError> errors = new ArrayList<>(spec.validate());
        if (spec.image() != null && spec.disks().size() > MAX_IMAGE_ZONE_DISKS) {
            errors.add(new FieldError("disks", "an image zone has at most " + MAX_IMAGE_ZONE_DISKS + " disks (xvda to"
                    + " xvdx): " + IMAGE_VDEV + " and " + WORKLOAD_VDEV + " hold its image and workload"));
        }
        for (int i = 0; i < spec.devices().size(); i++) {
            if (!DeviceSpec.TYPE_PCI.equals(spec.devices().get(i).type())) {
                errors.add(new FieldError("devices[" + i + "].type", "the xen driver gives zones pci devices only,"
                        + " not " + spec.devices().get(i).type()));
            }
        }
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec d = spec.disks().get(i);
            if (DiskSpec.FORMAT_QCOW2.equals(d.format())) {
                errors.add(new FieldError("disks[" + i + "].format", "qcow2 needs QEMU's qdisk backend in dom0; the"
                        + " xen driver gives raw images to blkback (qemu-img convert -O raw)"));
            }
            checkQuotable(errors, "disks[" + i + "].path", d.path());
        }
        if (spec.disks().size() > MAX_DISKS) {
            errors.add(new FieldError("disks", "at most " + MAX_DISKS + " disks (xvda to xvdz)"));
        }
        String type = spec.labels().get(TYPE_LABEL);
        if (type != null && !PV.equals(type) && !PVH.equals(type)) {
            errors.add(new FieldError("labels." + TYPE_LABEL, "'" + type + "' is not a Xen guest type; use pv or pvh"));
        }
        checkQuotable(errors, "kernel", spec.kernel());
        checkQuotable(errors, "initramfs", spec.initramfs());
        checkQuotable(errors, "cmdline", spec.cmdline());
        return errors;
    }

    /** Throws a DriverException that names each field of {@code spec} this driver cannot honour. */
    public static void checkSupported(ZoneSpec spec) throws DriverException {
        fail(spec, unsupported(spec));
    }

    private static void fail(ZoneSpec spec, List<FieldError> errors) throws DriverException {
        if (!errors.isEmpty()) {
            throw new DriverException("zone " + spec.name() + " cannot run on the xen driver: "
                    + errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        }
    }

    /**
     * What the boot files and the prepared resources cannot give the spec: a feature of the driver's image that
     * this kernel lacks, a channel to a zone with no rendezvous, a value an xl string cannot hold.
     */
    public static List<FieldError> unrenderable(ZoneSpec spec, BootFiles boot, PreparedResources res) {
        List<FieldError> errors = new ArrayList<>();
        checkQuotable(errors, "kernel", boot.kernel().toString());
        checkQuotable(errors, "initramfs", boot.ramdisk().toString());
        if (boot.zoneInit()) {
            need(errors, boot, "networks", ZoneImage.NET, !spec.networks().isEmpty());
            need(errors, boot, "disks", ZoneImage.DISK, !spec.disks().isEmpty());
            need(errors, boot, "channels", ZoneImage.VCHAN, !spec.channels().isEmpty());
            need(errors, boot, "image", ZoneImage.IMAGE, spec.image() != null);
            // The guest agent (zone:exec) rides a vchan.
            need(errors, boot, "image", ZoneImage.VCHAN, spec.image() != null);
        } else if (spec.image() != null) {
            errors.add(new FieldError("image", "an image zone boots the driver's zone initramfs, which mounts the"
                    + " image; this zone names an initramfs of its own"));
        } else if (!spec.channels().isEmpty()) {
            errors.add(new FieldError("channels", "channels need the driver's zone initramfs (its zk-channel); this"
                    + " zone boots an initramfs of its own"));
        }
        memoryFloor(errors, spec, boot);
        for (int i = 0; i < spec.channels().size(); i++) {
            ChannelSpec c = spec.channels().get(i);
            if (c.peer() != null && res.channel(c.name()) == null) {
                errors.add(new FieldError("channels[" + i + "].peer", "no rendezvous was arranged for the channel to "
                        + c.peer() + " (zone-core's channel broker arranges zone-to-zone channels)"));
            }
        }
        if (res.nics().size() != spec.networks().size()) {
            errors.add(new FieldError("networks", spec.networks().size() + " named, but " + res.nics().size()
                    + " prepared"));
        }
        if (res.disks().size() != spec.disks().size()) {
            errors.add(new FieldError("disks", spec.disks().size() + " named, but " + res.disks().size()
                    + " prepared"));
        }
        for (int i = 0; i < res.nics().size(); i++) {
            PreparedNic n = res.nics().get(i);
            checkDeviceWord(errors, "networks[" + i + "]", n.bridge());
            checkDeviceWord(errors, "networks[" + i + "]", n.mac());
            checkDeviceWord(errors, "networks[" + i + "]", n.tapDevice());
        }
        for (int i = 0; i < res.devices().size(); i++) {
            io.zonekeeper.spi.PreparedDevice d = res.devices().get(i);
            if (!"pci".equals(d.type())) {
                errors.add(new FieldError("devices", "the xen driver renders pci devices only, not " + d.type()));
            } else if (d.attributes().get("host") == null
                    || !ZoneSpec.PCI_ADDRESS.matcher(d.attributes().get("host")).matches()) {
                errors.add(new FieldError("devices", "device " + d.id() + " has no PCI address (host) to give xl"));
            }
        }
        for (int i = 0; i < res.disks().size(); i++) {
            PreparedDisk d = res.disks().get(i);
            checkQuotable(errors, "disks[" + i + "].path", d.path());
            if (DiskSpec.FORMAT_QCOW2.equals(d.format())) {
                errors.add(new FieldError("disks[" + i + "].format", "qcow2 needs QEMU's qdisk backend in dom0"));
            }
        }
        return errors;
    }

    /**
     * Memory below what the kernel and its initramfs take before the kernel runs anything ({@link KernelFootprint}:
     * for a bzImage its load address plus the memory its header says it needs, the ramdisk twice, a few MiB to run)
     * would give a domain that dies out of memory while it boots. A kernel whose footprint cannot be read is left to
     * Xen.
     */
    private static void memoryFloor(List<FieldError> errors, ZoneSpec spec, BootFiles boot) {
        KernelFootprint.tooLittle(spec.memoryMiB(), boot.kernel(), boot.kernel(), boot.ramdisk())
                .ifPresent(why -> errors.add(new FieldError("memoryMiB", why)));
    }

    private static void need(List<FieldError> errors, BootFiles boot, String field, String feature, boolean wanted) {
        if (wanted && !boot.features().contains(feature)) {
            errors.add(new FieldError(field, "the zone image of kernel " + boot.kernel() + " has no " + feature
                    + " support: " + boot.missing().getOrDefault(feature, "not built")));
        }
    }

    /** The config of a zone with no networks, disks or channels. */
    public static String render(UUID id, ZoneSpec spec, BootFiles boot, String defaultType) throws DriverException {
        return render(id, spec, boot, defaultType, PreparedResources.NONE, null);
    }

    /**
     * The config file's text.
     *
     * @param defaultType the guest type of zones that do not ask for one ({@link #PV} or {@link #PVH})
     * @param res         what the appliance prepared: network interfaces and disks in spec order
     * @param backends    the hotplug scripts; may be null when {@code res} has no interfaces and no disks
     */
    public static String render(UUID id, ZoneSpec spec, BootFiles boot, String defaultType, PreparedResources res,
            Backends backends) throws DriverException {
        return render(id, spec, boot, defaultType, res, backends, null);
    }

    /**
     * The config file's text.
     *
     * @param image an image zone's disks, null for any other zone (and required for an image zone)
     */
    public static String render(UUID id, ZoneSpec spec, BootFiles boot, String defaultType, PreparedResources res,
            Backends backends, ImageDisks image) throws DriverException {
        checkSupported(spec);
        List<FieldError> errors = unrenderable(spec, boot, res);
        if (spec.image() != null && image == null) {
            errors.add(new FieldError("image", "the image's disks were not prepared"));
        }
        if (image != null) {
            checkQuotable(errors, "disks[image]", image.rootfs().toString());
            checkQuotable(errors, "disks[workload]", image.workload().toString());
        }
        fail(spec, errors);
        StringBuilder c = new StringBuilder();
        c.append("# Zonekeeper zone ").append(spec.name()).append(" (").append(id).append("), rendered by the xen")
                .append(" driver at every start: edit the zone's spec, not this file.\n");
        line(c, "name", quote(spec.name()));
        line(c, "uuid", quote(id.toString()));
        line(c, "type", quote(guestType(spec, defaultType)));
        line(c, "kernel", quote(boot.kernel().toString()));
        line(c, "ramdisk", quote(boot.ramdisk().toString()));
        line(c, "cmdline", quote(kernelCmdline(spec, boot, res)));
        line(c, "memory", String.valueOf(spec.memoryMiB()));
        line(c, "maxmem", String.valueOf(spec.memoryMiB()));
        line(c, "vcpus", String.valueOf(spec.vcpus()));
        if (!res.nics().isEmpty()) {
            List<String> vifs = new ArrayList<>();
            for (PreparedNic n : res.nics()) {
                StringJoiner v = new StringJoiner(",");
                v.add("bridge=" + n.bridge()).add("mac=" + n.mac());
                // The host interface takes the name the appliance leased for it, so that it is known to be this
                // zone's; netback makes it. zone-network pins that name to the lease (an nft chain matching the
                // interface name, made when the lease is taken, before the vif exists), so a vif under any other
                // name, such as netback's default vifDOMID.N when a device of that name is there already, would
                // reach the bridge unpinned: refused.
                if (backends.linkExists().test(n.tapDevice())) {
                    throw new DriverException("zone " + spec.name() + ": network " + n.network() + ": a host"
                            + " interface named " + n.tapDevice() + " exists already, so netback's vif could not take"
                            + " that name, and only that name is pinned to the zone's lease (MAC " + n.mac() + "); "
                            + "remove the interface (net:orphans --release) and start the zone again");
                }
                v.add("vifname=" + n.tapDevice());
                v.add("script=" + backends.vifScript());
                vifs.add(single(v.toString()));
            }
            line(c, "vif", "[ " + String.join(", ", vifs) + " ]");
        }
        if (!res.disks().isEmpty() || image != null) {
            List<String> disks = new ArrayList<>();
            for (int i = 0; i < res.disks().size(); i++) {
                PreparedDisk d = res.disks().get(i);
                disks.add(disk(vdev(i), d.readOnly(), backends, d.path()));
            }
            if (image != null) {
                disks.add(disk(IMAGE_VDEV, true, backends, image.rootfs().toString()));
                disks.add(disk(WORKLOAD_VDEV, true, backends, image.workload().toString()));
            }
            line(c, "disk", "[ " + String.join(", ", disks) + " ]");
        }
        if (!res.devices().isEmpty()) {
            // Each function is on pciback already (xl pci-assignable-add, by the device backend); xl gives it to the
            // guest with the same function number.
            line(c, "pci", "[ " + res.devices().stream().map(d -> single(d.attribute("host")))
                    .collect(Collectors.joining(", ")) + " ]");
        }
        // A zone that powers off is gone; one that crashes stays (state 'c') so the driver can tell the two apart
        // and report CRASHED with its console, then destroys it. Zones do not reboot.
        line(c, "on_poweroff", quote("destroy"));
        line(c, "on_reboot", quote("destroy"));
        line(c, "on_crash", quote("preserve"));
        return c.toString();
    }

    private static String disk(String vdev, boolean readOnly, Backends backends, String path) {
        // target= must come last: xl takes the rest of the string as the path.
        return single("format=raw,vdev=" + vdev + ",access=" + (readOnly ? "ro" : "rw") + ",backendtype=phy,script="
                + backends.blockScript() + ",target=" + path);
    }

    /** The guest's name of the {@code i}-th disk: xvda, xvdb, ... */
    public static String vdev(int i) {
        return "xvd" + (char) ('a' + i);
    }

    /** The guest kernel's command line of a zone without networks, disks or channels. */
    public static String kernelCmdline(ZoneSpec spec, BootFiles boot) {
        return kernelCmdline(spec, boot, PreparedResources.NONE);
    }

    /**
     * The guest kernel's command line: the Xen console, the zone init's orders, then the spec's own words. The
     * zone init's words are the KVM driver's: {@code zk.features=}, one {@code zk.nic=MAC,ADDR/PREFIX,GW[,ADDR6,GW6]}
     * per interface, {@code zk.disks=NAME:rw,...} in vdev order, {@code zk.channels=} in spec order.
     */
    public static String kernelCmdline(ZoneSpec spec, BootFiles boot, PreparedResources res) {
        StringJoiner k = new StringJoiner(" ");
        k.add("console=hvc0");
        if (boot.zoneInit()) {
            k.add("quiet").add("rdinit=/init").add("zk.name=" + spec.name());
            List<String> features = new ArrayList<>();
            if (!res.nics().isEmpty()) {
                features.add(ZoneImage.NET);
            }
            if (!res.disks().isEmpty()) {
                features.add(ZoneImage.DISK);
            }
            if (!spec.channels().isEmpty() || spec.image() != null) {
                features.add(ZoneImage.VCHAN);
            }
            if (spec.image() != null) {
                features.add(ZoneImage.IMAGE);
            }
            if (!features.isEmpty()) {
                k.add("zk.features=" + String.join(",", features));
            }
            for (PreparedNic n : res.nics()) {
                k.add("zk.nic=" + n.mac() + "," + n.address() + "," + n.gateway()
                        + (n.address6() == null ? "" : "," + n.address6() + "," + n.gateway6()));
            }
            if (!res.disks().isEmpty()) {
                k.add("zk.disks=" + res.disks().stream().map(d -> d.name() + (d.readOnly() ? ":ro" : ":rw"))
                        .collect(Collectors.joining(",")));
            }
            if (!spec.channels().isEmpty()) {
                k.add("zk.channels=" + spec.channels().stream().map(ChannelSpec::name)
                        .collect(Collectors.joining(",")));
            }
            if (spec.image() != null) {
                // Only a flag: the workload itself comes on its own disk, never on this line.
                k.add("zk.image=1");
            }
        }
        if (!spec.cmdline().isBlank()) {
            k.add(spec.cmdline().trim());
        }
        return k.toString();
    }

    private static void line(StringBuilder c, String key, String value) {
        c.append(key).append(" = ").append(value).append('\n');
    }

    /** A string in xl.cfg syntax: double quotes, or single quotes when the text holds a double quote. */
    static String quote(String s) {
        return s.indexOf('"') < 0 ? "\"" + s + "\"" : "'" + s + "'";
    }

    /** A list element in single quotes; its text was checked to hold none. */
    private static String single(String s) {
        return "'" + s + "'";
    }

    private static void checkQuotable(List<FieldError> errors, String field, String value) {
        if (value == null) {
            return;
        }
        if (value.indexOf('"') >= 0 && value.indexOf('\'') >= 0) {
            errors.add(new FieldError(field, "holds both ' and \", which an xl config string cannot quote"));
        } else if (value.indexOf('\\') >= 0) {
            errors.add(new FieldError(field, "holds a backslash, which an xl config string would read as an escape"));
        } else if (value.chars().anyMatch(ch -> ch < 0x20)) {
            errors.add(new FieldError(field, "holds control characters"));
        } else if (field.startsWith("disks[") && value.indexOf('\'') >= 0) {
            errors.add(new FieldError(field, "holds a ', which an xl disk entry cannot hold"));
        }
    }

    /** Words inside a vif entry: no separators, quotes or spaces. */
    private static void checkDeviceWord(List<FieldError> errors, String field, String value) {
        if (value == null || value.isEmpty() || !value.matches("[A-Za-z0-9:._-]+")) {
            errors.add(new FieldError(field, "'" + value + "' cannot go into an xl vif entry"));
        }
    }
}

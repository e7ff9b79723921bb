package io.zonekeeper.xen.xl;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.stream.Collectors;

import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.DriverException;

/**
 * Renders a zone into an xl domain config file (xl.cfg(5)), which xl hands to libxl. Pure: it reads nothing and
 * starts nothing. Whatever of a spec it cannot render, it refuses by field name before xl is ever called.
 *
 * <p>The guest type is PV unless the zone asks for PVH with the label {@value #TYPE_LABEL}{@code =pvh} (or the
 * driver's configured default says otherwise). PV boots the Debian kernel as it is and starts fastest in the
 * nested lab; PVH needs hardware-assisted paging and was about twice as slow there.
 *
 * <p>The domain's uuid is the zone's id: Xen keeps it, the guest cannot change it, and it is what adoption checks.
 */
public final class DomainConfig {
    /** The spec label that picks the guest type: {@code pv} or {@code pvh}. */
    public static final String TYPE_LABEL = "xen.type";
    public static final String PV = "pv";
    public static final String PVH = "pvh";

    /** What a zone boots: the kernel and ramdisk files, and whether the ramdisk runs Zonekeeper's zone init. */
    public record BootFiles(Path kernel, Path ramdisk, boolean zoneInit) {
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
        if (!spec.devices().isEmpty()) {
            errors.add(new FieldError("devices", "PCI passthrough is not supported by the xen driver yet"));
        }
        if (!spec.networks().isEmpty()) {
            errors.add(new FieldError("networks", "networks are not supported by the xen driver yet"));
        }
        if (!spec.disks().isEmpty()) {
            errors.add(new FieldError("disks", "disks are not supported by the xen driver yet"));
        }
        if (!spec.channels().isEmpty()) {
            errors.add(new FieldError("channels", "channels (vchan) are not supported by the xen driver yet"));
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
        List<FieldError> errors = unsupported(spec);
        if (!errors.isEmpty()) {
            throw new DriverException("zone " + spec.name() + " cannot run on the xen driver: "
                    + errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        }
    }

    /**
     * The config file's text.
     *
     * @param defaultType the guest type of zones that do not ask for one ({@link #PV} or {@link #PVH})
     */
    public static String render(UUID id, ZoneSpec spec, BootFiles boot, String defaultType) throws DriverException {
        checkSupported(spec);
        List<FieldError> errors = new ArrayList<>();
        checkQuotable(errors, "kernel", boot.kernel().toString());
        checkQuotable(errors, "initramfs", boot.ramdisk().toString());
        if (!errors.isEmpty()) {
            throw new DriverException("zone " + spec.name() + " cannot run on the xen driver: " + errors.stream()
                    .map(FieldError::toString).collect(Collectors.joining("; ")));
        }
        StringBuilder c = new StringBuilder();
        c.append("# Zonekeeper zone ").append(spec.name()).append(" (").append(id).append("), rendered by the xen")
                .append(" driver at every start: edit the zone's spec, not this file.\n");
        line(c, "name", quote(spec.name()));
        line(c, "uuid", quote(id.toString()));
        line(c, "type", quote(guestType(spec, defaultType)));
        line(c, "kernel", quote(boot.kernel().toString()));
        line(c, "ramdisk", quote(boot.ramdisk().toString()));
        line(c, "cmdline", quote(kernelCmdline(spec, boot)));
        line(c, "memory", String.valueOf(spec.memoryMiB()));
        line(c, "maxmem", String.valueOf(spec.memoryMiB()));
        line(c, "vcpus", String.valueOf(spec.vcpus()));
        // A zone that powers off is gone; one that crashes stays (state 'c') so the driver can tell the two apart
        // and report CRASHED with its console, then destroys it. Zones do not reboot.
        line(c, "on_poweroff", quote("destroy"));
        line(c, "on_reboot", quote("destroy"));
        line(c, "on_crash", quote("preserve"));
        return c.toString();
    }

    /** The guest kernel's command line: the Xen console, the zone init's orders, then the spec's own words. */
    public static String kernelCmdline(ZoneSpec spec, BootFiles boot) {
        StringJoiner k = new StringJoiner(" ");
        k.add("console=hvc0");
        if (boot.zoneInit()) {
            k.add("quiet").add("rdinit=/init").add("zk.name=" + spec.name());
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
        }
    }
}

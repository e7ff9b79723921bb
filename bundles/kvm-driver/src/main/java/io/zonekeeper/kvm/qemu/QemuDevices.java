package io.zonekeeper.kvm.qemu;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.PreparedResources;

/**
 * Renders the devices that device backends prepared ({@link PreparedDevice}, types {@code pci} and {@code tpm}) into
 * QEMU arguments, and decides which {@link Machine} they need. Pure, like {@link QemuCommandLine}: everything it is
 * given is checked before it becomes part of an argument, because QEMU reads commas as option separators.
 */
public final class QemuDevices {
    public static final String PCI = DeviceSpec.TYPE_PCI;
    public static final String TPM = "tpm";
    /** The device types this driver renders. */
    public static final Set<String> TYPES = Set.of(PCI, TPM);

    private static final Pattern QEMU_ID = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");
    private static final Pattern SLOT = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]");
    private static final Set<String> TPM_MODELS = Set.of("tpm-tis", "tpm-crb");

    private QemuDevices() {
    }

    /**
     * What a device needs of the machine: what its backend says, and what this driver knows its type needs here,
     * so that a backend that forgot to say so still gets a machine where its device works.
     */
    public static Set<PlatformNeed> needsOf(PreparedDevice d) {
        Set<PlatformNeed> n = d.needs().isEmpty() ? EnumSet.noneOf(PlatformNeed.class) : EnumSet.copyOf(d.needs());
        if (TPM.equals(d.type())) {
            n.add(PlatformNeed.FIRMWARE_ACPI);
        } else if (PCI.equals(d.type())) {
            n.add(PlatformNeed.PCIE);
        }
        return n;
    }

    /** The cheapest machine for the prepared devices, but never less than {@code floor}. */
    public static Machine machineFor(PreparedResources res, Machine floor) {
        Set<PlatformNeed> needs = EnumSet.noneOf(PlatformNeed.class);
        res.devices().forEach(d -> needs.addAll(needsOf(d)));
        return Machine.forNeeds(needs).atLeast(floor);
    }

    /** For people: which device asked for which machine, such as {@code tpm0 (tpm) needs FIRMWARE_ACPI}. */
    public static String why(PreparedResources res, Machine floor, Machine chosen) {
        List<String> reasons = new ArrayList<>();
        for (PreparedDevice d : res.devices()) {
            Set<PlatformNeed> n = needsOf(d);
            if (!n.isEmpty() && Machine.forNeeds(n) == chosen) {
                reasons.add(d.id() + " (" + d.type() + ") needs " + String.join(" and ",
                        n.stream().map(Enum::name).toList()));
            }
        }
        if (reasons.isEmpty()) {
            return chosen == floor && floor != Machine.MICROVM_PVH ? "configured machine=" + floor.id()
                    : "no device needs more";
        }
        return String.join("; ", reasons);
    }

    /** Every reason the prepared devices cannot be rendered for {@code spec}; empty when they can. */
    public static List<FieldError> check(ZoneSpec spec, PreparedResources res) {
        List<FieldError> errors = new ArrayList<>();
        for (int i = 0; i < spec.devices().size(); i++) {
            String type = spec.devices().get(i).type();
            if (!TYPES.contains(type)) {
                errors.add(new FieldError("devices[" + i + "].type", "the kvm driver renders pci and tpm devices,"
                        + " not " + type));
            } else if (res.devices().stream().noneMatch(d -> d.type().equals(type))) {
                errors.add(new FieldError("devices[" + i + "]", "no " + type + " device was prepared for it: its"
                        + " device backend bundle prepares it before the driver starts the zone"));
            }
        }
        Set<String> ids = new java.util.HashSet<>();
        int tpms = 0;
        for (PreparedDevice d : res.devices()) {
            String at = "devices (" + d.type() + " " + d.id() + ")";
            if (!TYPES.contains(d.type())) {
                errors.add(new FieldError(at, "the kvm driver does not render " + d.type() + " devices"));
                continue;
            }
            if (d.id() == null || !QEMU_ID.matcher(d.id()).matches()) {
                errors.add(new FieldError(at, "id '" + d.id() + "' is not a QEMU device id (a letter, then letters,"
                        + " digits, . _ -, at most 31)"));
            } else if (!ids.add(d.id())) {
                errors.add(new FieldError(at, "id " + d.id() + " is used twice"));
            }
            if (TPM.equals(d.type())) {
                tpms++;
                checkTpm(d, at, errors);
            } else {
                checkPci(d, at, errors);
            }
        }
        if (tpms > 1) {
            errors.add(new FieldError("devices", tpms + " TPMs prepared, but a QEMU machine has at most one"));
        }
        checkSlots(res.devices(), errors);
        return errors;
    }

    private static void checkTpm(PreparedDevice d, String at, List<FieldError> errors) {
        String socket = d.attributes().get("socket");
        if (socket == null || !socket.startsWith("/") || socket.contains(",") || socket.chars().anyMatch(c -> c < 0x20)) {
            errors.add(new FieldError(at, "socket '" + socket + "' is not an absolute path without commas"));
        } else if (socket.getBytes(StandardCharsets.UTF_8).length > ZoneFiles.MAX_SOCKET_PATH) {
            errors.add(new FieldError(at, "socket " + socket + " is longer than a Unix socket path may be ("
                    + ZoneFiles.MAX_SOCKET_PATH + " bytes)"));
        }
        String model = d.attributes().getOrDefault("model", "tpm-tis");
        if (!TPM_MODELS.contains(model)) {
            errors.add(new FieldError(at, "model '" + model + "' is not tpm-tis or tpm-crb"));
        }
        String version = d.attributes().getOrDefault("version", "2.0");
        if (!"2.0".equals(version) && !"1.2".equals(version)) {
            errors.add(new FieldError(at, "version '" + version + "' is not 2.0 or 1.2"));
        }
    }

    private static void checkPci(PreparedDevice d, String at, List<FieldError> errors) {
        String host = d.attributes().get("host");
        if (host == null || !ZoneSpec.PCI_ADDRESS.matcher(host).matches()) {
            errors.add(new FieldError(at, "host '" + host + "' is not a PCI address like 0000:01:00.0"));
            return;
        }
        String slot = d.attributes().getOrDefault("slot", host.substring(0, host.lastIndexOf('.')));
        if (!SLOT.matcher(slot).matches() || !host.startsWith(slot + ".")) {
            errors.add(new FieldError(at, "slot '" + slot + "' is not the slot of " + host));
        }
        String mf = d.attributes().getOrDefault("multifunction", "false");
        if (!"true".equals(mf) && !"false".equals(mf)) {
            errors.add(new FieldError(at, "multifunction '" + mf + "' is not true or false"));
        }
    }

    /** A guest looks for functions 1-7 of a slot only when function 0 is there, so each slot must have it. */
    private static void checkSlots(List<PreparedDevice> devices, List<FieldError> errors) {
        for (Map.Entry<String, List<PreparedDevice>> s : slots(devices).entrySet()) {
            if (s.getValue().stream().noneMatch(d -> function(d) == 0)) {
                errors.add(new FieldError("devices (pci " + s.getKey() + ")", "slot " + s.getKey() + " has no"
                        + " function 0 in this zone, and a guest does not look for its other functions without it;"
                        + " assign the slot's function 0 too"));
            }
        }
    }

    /** The pci devices by host slot, in the order their slots first appear. */
    private static Map<String, List<PreparedDevice>> slots(List<PreparedDevice> devices) {
        Map<String, List<PreparedDevice>> m = new LinkedHashMap<>();
        for (PreparedDevice d : devices) {
            String host = d.attributes().get("host");
            if (PCI.equals(d.type()) && host != null && ZoneSpec.PCI_ADDRESS.matcher(host).matches()) {
                m.computeIfAbsent(host.substring(0, host.lastIndexOf('.')), k -> new ArrayList<>()).add(d);
            }
        }
        return m;
    }

    private static int function(PreparedDevice d) {
        String host = d.attribute("host");
        return host.charAt(host.length() - 1) - '0';
    }

    /**
     * The QEMU arguments of the devices, checked already by {@link #check}. A TPM is a socket chardev to its
     * emulator, an emulator tpmdev and the TIS or CRB front end. Host PCI functions get one PCI Express root port
     * per host slot, and keep their function numbers in it, with {@code multifunction=on} on function 0 of a slot
     * that has more than one, so that a GPU and its audio function stay one device in the guest.
     */
    public static List<String> render(List<PreparedDevice> devices) {
        List<String> a = new ArrayList<>();
        for (PreparedDevice d : devices) {
            if (TPM.equals(d.type())) {
                String chr = "chr-" + d.id();
                String dev = "tpmdev-" + d.id();
                a.addAll(List.of("-chardev", "socket,id=" + chr + ",path=" + d.attribute("socket"),
                        "-tpmdev", "emulator,id=" + dev + ",chardev=" + chr,
                        "-device", d.attributes().getOrDefault("model", "tpm-tis") + ",tpmdev=" + dev + ",id=" + d.id()));
            }
        }
        int port = 0;
        for (List<PreparedDevice> slot : slots(devices).values()) {
            String rp = "rp" + port;
            // chassis numbers must be unique per root port; slot numbers then default to 0 in each.
            a.addAll(List.of("-device", "pcie-root-port,id=" + rp + ",bus=pcie.0,chassis=" + (port + 1)));
            for (PreparedDevice d : slot) {
                int fn = function(d);
                boolean multi = "true".equals(d.attributes().get("multifunction")) || slot.size() > 1;
                a.addAll(List.of("-device", "vfio-pci,host=" + d.attribute("host") + ",id=" + d.id() + ",bus=" + rp
                        + ",addr=0." + fn + (multi && fn == 0 ? ",multifunction=on" : "")));
            }
            port++;
        }
        return a;
    }

    /** One line per device for the runtime record and {@code zone:info}. */
    public static List<String> describe(List<PreparedDevice> devices) {
        List<String> out = new ArrayList<>();
        for (PreparedDevice d : devices) {
            if (TPM.equals(d.type())) {
                out.add("tpm " + d.id() + " " + d.attributes().getOrDefault("model", "tpm-tis") + " "
                        + d.attributes().getOrDefault("version", "2.0") + " socket " + d.attributes().get("socket"));
            } else {
                out.add("pci " + d.id() + " host " + d.attributes().get("host"));
            }
        }
        return out;
    }
}

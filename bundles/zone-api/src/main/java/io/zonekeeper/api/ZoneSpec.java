package io.zonekeeper.api;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a zone is: the same spec runs on any driver that can honour it. Immutable; build one with
 * {@link #builder(String)} and check it with {@link #validate()}, which names every broken field.
 *
 * <p>A null {@link #kernel()} or {@link #initramfs()} means the driver's default zone image.
 */
public final class ZoneSpec {
    /** Lower-case letters, digits and dashes, starting with a letter or digit: safe as a folder and a VM name. */
    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    /** A PCI address in domain:bus:device.function form. */
    public static final Pattern PCI_ADDRESS = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\\.[0-7]");
    /** A channel name: what the guest sees as its port name. */
    /** A device type: {@code pci}, or the type a device backend serves ({@code tpm}, say). */
    public static final Pattern DEVICE_TYPE = Pattern.compile("[a-z][a-z0-9-]{0,31}");
    /** The address of a device other than pci: letters, digits and {@code . _ : -}, never a path. */
    public static final Pattern DEVICE_ADDRESS = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,63}");
    public static final Pattern CHANNEL_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,31}");
    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,62}");
    private static final Pattern IPV4 = Pattern.compile(
            "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");
    public static final int MIN_MEMORY_MIB = 64;
    public static final int MAX_MEMORY_MIB = 1024 * 1024;
    public static final int MAX_VCPUS = 256;
    public static final int MAX_CMDLINE = 2048;

    private final String name;
    private final String kernel;
    private final String initramfs;
    private final String cmdline;
    private final int vcpus;
    private final int memoryMiB;
    private final String hypervisor;
    private final List<DeviceSpec> devices;
    private final List<ChannelSpec> channels;
    private final List<NetworkAttachment> networks;
    private final List<DiskSpec> disks;
    private final Map<String, String> labels;

    private ZoneSpec(Builder b) {
        this.name = b.name;
        this.kernel = b.kernel;
        this.initramfs = b.initramfs;
        this.cmdline = b.cmdline == null ? "" : b.cmdline;
        this.vcpus = b.vcpus;
        this.memoryMiB = b.memoryMiB;
        this.hypervisor = b.hypervisor;
        this.devices = List.copyOf(b.devices);
        this.channels = List.copyOf(b.channels);
        this.networks = List.copyOf(b.networks);
        this.disks = List.copyOf(b.disks);
        this.labels = Map.copyOf(b.labels);
    }

    public static Builder builder(String name) {
        return new Builder().name(name);
    }

    /** A builder that starts from this spec, to change a few fields. */
    public Builder toBuilder() {
        Builder b = new Builder().name(name).kernel(kernel).initramfs(initramfs).cmdline(cmdline).vcpus(vcpus)
                .memoryMiB(memoryMiB).hypervisor(hypervisor);
        devices.forEach(b::device);
        channels.forEach(b::channel);
        networks.forEach(b::network);
        disks.forEach(b::disk);
        b.labels.putAll(labels);
        return b;
    }

    public String name() {
        return name;
    }

    public String kernel() {
        return kernel;
    }

    public String initramfs() {
        return initramfs;
    }

    /** Extra kernel command line, appended to what the driver needs. */
    public String cmdline() {
        return cmdline;
    }

    public int vcpus() {
        return vcpus;
    }

    public int memoryMiB() {
        return memoryMiB;
    }

    /** The hypervisor type this zone must run on ({@code kvm}, {@code xen}, …), or null for any. */
    public String hypervisor() {
        return hypervisor;
    }

    public List<DeviceSpec> devices() {
        return devices;
    }

    public List<ChannelSpec> channels() {
        return channels;
    }

    public List<NetworkAttachment> networks() {
        return networks;
    }

    public List<DiskSpec> disks() {
        return disks;
    }

    public Map<String, String> labels() {
        return labels;
    }

    /** Every broken field, in the order of the fields; empty when the spec is valid. */
    public List<FieldError> validate() {
        List<FieldError> errors = new ArrayList<>();
        if (name == null || name.isEmpty()) {
            errors.add(new FieldError("name", "is required"));
        } else if (!NAME.matcher(name).matches()) {
            errors.add(new FieldError("name", "'" + name
                    + "' must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit"));
        }
        checkPath(errors, "kernel", kernel);
        checkPath(errors, "initramfs", initramfs);
        if (cmdline.length() > MAX_CMDLINE) {
            errors.add(new FieldError("cmdline", "is " + cmdline.length() + " characters, at most " + MAX_CMDLINE));
        }
        if (cmdline.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            errors.add(new FieldError("cmdline", "must not contain control characters"));
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            errors.add(new FieldError("vcpus", vcpus + " is out of range 1.." + MAX_VCPUS));
        }
        if (memoryMiB < MIN_MEMORY_MIB || memoryMiB > MAX_MEMORY_MIB) {
            errors.add(new FieldError("memoryMiB", memoryMiB + " is out of range " + MIN_MEMORY_MIB + ".."
                    + MAX_MEMORY_MIB));
        }
        if (hypervisor != null && !NAME.matcher(hypervisor).matches()) {
            errors.add(new FieldError("hypervisor", "'" + hypervisor + "' is not a driver type such as kvm or xen"));
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < devices.size(); i++) {
            DeviceSpec d = devices.get(i);
            String at = "devices[" + i + "]";
            if (d.type() == null || !DEVICE_TYPE.matcher(d.type()).matches()) {
                errors.add(new FieldError(at + ".type", "'" + d.type()
                        + "' is not a device type such as pci or tpm (lower-case letters, digits and dashes)"));
            } else if (DeviceSpec.TYPE_PCI.equals(d.type())) {
                if (d.address() == null || !PCI_ADDRESS.matcher(d.address()).matches()) {
                    errors.add(new FieldError(at + ".address", "'" + d.address()
                            + "' is not a PCI address like 0000:01:00.0"));
                } else if (!seen.add("pci:" + d.address())) {
                    errors.add(new FieldError(at + ".address", d.address() + " is named twice"));
                }
            } else if (d.address() != null && !DEVICE_ADDRESS.matcher(d.address()).matches()) {
                errors.add(new FieldError(at + ".address", "'" + d.address() + "' is not a device address (letters,"
                        + " digits and . _ : -, at most 64)"));
            } else if (!seen.add(d.type() + ":" + d.address())) {
                errors.add(new FieldError(at, d + " is named twice"));
            }
        }
        seen.clear();
        for (int i = 0; i < channels.size(); i++) {
            ChannelSpec c = channels.get(i);
            String at = "channels[" + i + "]";
            if (c.name() == null || !CHANNEL_NAME.matcher(c.name()).matches()) {
                errors.add(new FieldError(at + ".name", "'" + c.name()
                        + "' must be 1-32 lower-case letters, digits, dots, dashes or underscores"));
            } else if (!seen.add(c.name())) {
                errors.add(new FieldError(at + ".name", c.name() + " is named twice"));
            }
            if (c.peer() != null && !NAME.matcher(c.peer()).matches()) {
                errors.add(new FieldError(at + ".peer", "'" + c.peer() + "' is not a zone name"));
            } else if (c.peer() != null && c.peer().equals(name)) {
                errors.add(new FieldError(at + ".peer", "a zone cannot open a channel to itself"));
            }
        }
        seen.clear();
        for (int i = 0; i < networks.size(); i++) {
            NetworkAttachment n = networks.get(i);
            String at = "networks[" + i + "]";
            if (n.network() == null || !NAME.matcher(n.network()).matches()) {
                errors.add(new FieldError(at + ".network", "'" + n.network() + "' is not a network name"));
            } else if (!seen.add(n.network())) {
                errors.add(new FieldError(at + ".network", n.network() + " is named twice"));
            }
            if (n.ip() != null && !IPV4.matcher(n.ip()).matches()) {
                errors.add(new FieldError(at + ".ip", "'" + n.ip() + "' is not an IPv4 address"));
            }
        }
        seen.clear();
        for (int i = 0; i < disks.size(); i++) {
            DiskSpec d = disks.get(i);
            String at = "disks[" + i + "]";
            if (d.path() == null || d.path().isEmpty()) {
                errors.add(new FieldError(at + ".path", "is required"));
            } else {
                checkPath(errors, at + ".path", d.path());
                if (!seen.add(d.path())) {
                    errors.add(new FieldError(at + ".path", d.path() + " is named twice"));
                }
            }
            if (!DiskSpec.FORMAT_RAW.equals(d.format()) && !DiskSpec.FORMAT_QCOW2.equals(d.format())) {
                errors.add(new FieldError(at + ".format", "'" + d.format() + "' is not raw or qcow2"));
            }
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!LABEL_KEY.matcher(e.getKey()).matches()) {
                errors.add(new FieldError("labels." + e.getKey(), "is not a label key (letters, digits, . _ / -)"));
            }
            if (e.getValue() == null || e.getValue().length() > 256) {
                errors.add(new FieldError("labels." + e.getKey(), "value must be at most 256 characters"));
            }
        }
        return errors;
    }

    /** Throws an {@link InvalidSpecException} that names every broken field, if there is one. */
    public ZoneSpec requireValid() throws InvalidSpecException {
        List<FieldError> errors = validate();
        if (!errors.isEmpty()) {
            throw new InvalidSpecException(errors);
        }
        return this;
    }

    private static void checkPath(List<FieldError> errors, String field, String path) {
        if (path == null) {
            return;
        }
        if (path.isEmpty() || !path.startsWith("/")) {
            errors.add(new FieldError(field, "'" + path + "' must be an absolute path"));
        } else if (path.contains("\0") || path.contains(",") || path.chars().anyMatch(c -> c < 0x20)) {
            // A comma would split a QEMU or xl option; control characters have no place in a path.
            errors.add(new FieldError(field, "'" + path + "' must not contain commas or control characters"));
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ZoneSpec s)) {
            return false;
        }
        return vcpus == s.vcpus && memoryMiB == s.memoryMiB && Objects.equals(name, s.name)
                && Objects.equals(kernel, s.kernel) && Objects.equals(initramfs, s.initramfs)
                && cmdline.equals(s.cmdline) && Objects.equals(hypervisor, s.hypervisor)
                && devices.equals(s.devices) && channels.equals(s.channels) && networks.equals(s.networks)
                && disks.equals(s.disks) && labels.equals(s.labels);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, kernel, initramfs, cmdline, vcpus, memoryMiB, hypervisor, devices, channels,
                networks, disks, labels);
    }

    @Override
    public String toString() {
        return "ZoneSpec[" + name + ", " + vcpus + " vCPU, " + memoryMiB + " MiB"
                + (hypervisor == null ? "" : ", on " + hypervisor) + "]";
    }

    /** Builds a {@link ZoneSpec}; defaults are 1 vCPU and 128 MiB. */
    public static final class Builder {
        private String name;
        private String kernel;
        private String initramfs;
        private String cmdline;
        private int vcpus = 1;
        private int memoryMiB = 128;
        private String hypervisor;
        private final List<DeviceSpec> devices = new ArrayList<>();
        private final List<ChannelSpec> channels = new ArrayList<>();
        private final List<NetworkAttachment> networks = new ArrayList<>();
        private final List<DiskSpec> disks = new ArrayList<>();
        private final Map<String, String> labels = new LinkedHashMap<>();

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder kernel(String kernel) {
            this.kernel = kernel;
            return this;
        }

        public Builder initramfs(String initramfs) {
            this.initramfs = initramfs;
            return this;
        }

        public Builder cmdline(String cmdline) {
            this.cmdline = cmdline;
            return this;
        }

        public Builder vcpus(int vcpus) {
            this.vcpus = vcpus;
            return this;
        }

        public Builder memoryMiB(int memoryMiB) {
            this.memoryMiB = memoryMiB;
            return this;
        }

        public Builder hypervisor(String hypervisor) {
            this.hypervisor = hypervisor;
            return this;
        }

        public Builder device(DeviceSpec device) {
            devices.add(Objects.requireNonNull(device));
            return this;
        }

        public Builder channel(ChannelSpec channel) {
            channels.add(Objects.requireNonNull(channel));
            return this;
        }

        public Builder network(NetworkAttachment network) {
            networks.add(Objects.requireNonNull(network));
            return this;
        }

        public Builder disk(DiskSpec disk) {
            disks.add(Objects.requireNonNull(disk));
            return this;
        }

        public Builder label(String key, String value) {
            labels.put(Objects.requireNonNull(key, "label key"), Objects.requireNonNull(value, "label value"));
            return this;
        }

        /** The spec as given, valid or not: call {@link ZoneSpec#validate()} before using it. */
        public ZoneSpec build() {
            return new ZoneSpec(this);
        }
    }
}

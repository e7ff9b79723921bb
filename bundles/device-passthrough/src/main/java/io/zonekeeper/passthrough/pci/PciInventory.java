package io.zonekeeper.passthrough.pci;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;

import io.zonekeeper.passthrough.PassthroughException;

/**
 * The host's PCI devices and IOMMU groups, read from sysfs each time it is asked (sysfs is the truth; nothing is
 * cached). The root is {@code /sys} on a host and a fixture tree in tests. Entries under
 * {@code bus/pci/devices} are symlinks on a real host and may be plain folders in fixtures: both are read alike.
 */
public final class PciInventory {
    /** The driver that hands a device to a guest. */
    public static final String VFIO_PCI = "vfio-pci";
    private static final Pattern DRIVER_NAME = Pattern.compile("[A-Za-z0-9_.+-]+");

    private final Path root;

    public PciInventory(Path sysfsRoot) {
        this.root = sysfsRoot;
    }

    public Path root() {
        return root;
    }

    /** The IOMMU is on when the kernel made at least one IOMMU group. */
    public boolean iommuEnabled() {
        Path groups = iommuGroupsDir();
        if (!Files.isDirectory(groups)) {
            return false;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(groups)) {
            return entries.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }

    /** Every PCI function, in address order. A device that disappears while being read is left out. */
    public List<PciDevice> devices() throws PassthroughException {
        List<PciDevice> devices = new ArrayList<>();
        for (PciAddress address : listAddresses(devicesDir(), "the PCI device list")) {
            try {
                devices.add(read(address));
            } catch (NoSuchFileException gone) {
                // hot-unplugged between the listing and the read
            } catch (IOException e) {
                throw new PassthroughException("cannot read PCI device " + address + " under " + devicesDir() + ": "
                        + e.getMessage(), e);
            }
        }
        return devices;
    }

    public Optional<PciDevice> find(PciAddress address) throws PassthroughException {
        if (!Files.isDirectory(deviceDir(address))) {
            return Optional.empty();
        }
        try {
            return Optional.of(read(address));
        } catch (NoSuchFileException gone) {
            return Optional.empty();
        } catch (IOException e) {
            throw new PassthroughException("cannot read PCI device " + address + ": " + e.getMessage(), e);
        }
    }

    /** The device, or an exception that says it is not on this host. */
    public PciDevice device(PciAddress address) throws PassthroughException {
        return find(address).orElseThrow(() -> new PassthroughException("no PCI device " + address + " in "
                + devicesDir() + "; device:list shows the devices this host has"));
    }

    /** Parses the text strictly and finds the device; both failures say what was wrong. */
    public PciDevice device(String bdf) throws PassthroughException {
        return device(PciAddress.parse(bdf));
    }

    public IommuGroup group(int number) throws PassthroughException {
        if (number < 0) {
            throw new IllegalArgumentException("IOMMU group numbers are not negative: " + number);
        }
        Path members = iommuGroupsDir().resolve(Integer.toString(number)).resolve("devices");
        if (!Files.isDirectory(members)) {
            throw new PassthroughException("no IOMMU group " + number + " in " + iommuGroupsDir());
        }
        return new IommuGroup(number, listAddresses(members, "IOMMU group " + number));
    }

    /** The devices of a group, read now; members that vanished are left out. */
    public List<PciDevice> groupDevices(int number) throws PassthroughException {
        List<PciDevice> devices = new ArrayList<>();
        for (PciAddress member : group(number).members()) {
            find(member).ifPresent(devices::add);
        }
        return devices;
    }

    public Path devicesDir() {
        return root.resolve("bus/pci/devices");
    }

    public Path deviceDir(PciAddress address) {
        return devicesDir().resolve(address.toString());
    }

    public Path iommuGroupsDir() {
        return root.resolve("kernel/iommu_groups");
    }

    public Path driverDir(String driver) {
        if (!DRIVER_NAME.matcher(driver).matches()) {
            throw new IllegalArgumentException("not a driver name: '" + driver + "'");
        }
        return root.resolve("bus/pci/drivers").resolve(driver);
    }

    public Path driversProbe() {
        return root.resolve("bus/pci/drivers_probe");
    }

    /** The driver the device is bound to now, read from its {@code driver} link. */
    public Optional<String> currentDriver(PciAddress address) throws IOException {
        return linkName(deviceDir(address).resolve("driver"));
    }

    /** What {@code driver_override} says now; the kernel shows an unset override as {@code (null)}. */
    public Optional<String> currentOverride(PciAddress address) throws IOException {
        Path file = deviceDir(address).resolve("driver_override");
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        String value = Files.readString(file, StandardCharsets.US_ASCII).trim();
        return value.isEmpty() || value.equals("(null)") ? Optional.empty() : Optional.of(value);
    }

    private PciDevice read(PciAddress address) throws IOException {
        Path dir = deviceDir(address);
        OptionalInt group = OptionalInt.empty();
        Optional<String> groupLink = linkName(dir.resolve("iommu_group"));
        if (groupLink.isPresent()) {
            try {
                group = OptionalInt.of(Integer.parseInt(groupLink.get()));
            } catch (NumberFormatException e) {
                throw new IOException("iommu_group of " + address + " points at '" + groupLink.get()
                        + "', not at a numbered group");
            }
        }
        Path reset = dir.resolve("reset_method");
        List<String> resetMethods = Files.exists(reset)
                ? Arrays.stream(Files.readString(reset, StandardCharsets.US_ASCII).trim().split("\\s+"))
                        .filter(s -> !s.isEmpty()).toList()
                : List.of();
        Path numa = dir.resolve("numa_node");
        int numaNode = -1;
        if (Files.exists(numa)) {
            String text = Files.readString(numa, StandardCharsets.US_ASCII).trim();
            try {
                numaNode = Integer.parseInt(text);
            } catch (NumberFormatException e) {
                throw new IOException(numa + " holds '" + text + "', not a NUMA node number");
            }
        }
        return new PciDevice(address, hex(dir, "vendor"), hex(dir, "device"), hex(dir, "class"),
                currentDriver(address), group, resetMethods, numaNode, currentOverride(address));
    }

    private static int hex(Path dir, String name) throws IOException {
        String text = Files.readString(dir.resolve(name), StandardCharsets.US_ASCII).trim();
        try {
            return Integer.parseInt(text.startsWith("0x") ? text.substring(2) : text, 16);
        } catch (NumberFormatException e) {
            throw new IOException(dir.resolve(name) + " holds '" + text + "', not a hex number");
        }
    }

    /** The last name a link points at ({@code ../../bus/pci/drivers/nvidia} gives {@code nvidia}). */
    private static Optional<String> linkName(Path link) throws IOException {
        if (Files.isSymbolicLink(link)) {
            Path target = Files.readSymbolicLink(link).getFileName();
            return Optional.ofNullable(target).map(Path::toString);
        }
        return Optional.empty();
    }

    private static List<PciAddress> listAddresses(Path dir, String what) throws PassthroughException {
        List<PciAddress> addresses = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (PciAddress.isAddress(name)) {
                    addresses.add(PciAddress.parse(name));
                }
            }
        } catch (NoSuchFileException e) {
            throw new PassthroughException("cannot read " + what + ": " + dir + " does not exist; is sysfs mounted "
                    + "there?", e);
        } catch (IOException e) {
            throw new PassthroughException("cannot read " + what + " in " + dir + ": " + e.getMessage(), e);
        }
        addresses.sort(null);
        return addresses;
    }
}

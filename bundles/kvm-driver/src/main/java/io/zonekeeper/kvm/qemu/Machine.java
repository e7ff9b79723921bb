package io.zonekeeper.kvm.qemu;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

import io.zonekeeper.spi.PlatformNeed;

/**
 * The machines a zone can get, cheapest first. Each zone gets the cheapest one that has what its devices need
 * (shared/labs/KVM.md and this bundle's README have the boot times behind the order):
 * <ul>
 * <li>{@link #MICROVM_PVH}: virtio over MMIO, the uncompressed vmlinux entered through PVH; no PCI, no firmware.</li>
 * <li>{@link #Q35_PVH}: PCI Express with root ports, for host PCI functions; still the vmlinux through PVH.</li>
 * <li>{@link #Q35_FIRMWARE}: q35 booting Debian's bzImage through SeaBIOS, whose ACPI tables are the only way the
 * guest finds a TPM (its TPM2 table). Under PVH a TPM breaks the guest's reading of the ACPI tables altogether, so
 * neither the TPM nor the power button works there.</li>
 * </ul>
 */
public enum Machine {
    MICROVM_PVH("microvm-pvh"),
    Q35_PVH("q35-pvh"),
    Q35_FIRMWARE("q35-firmware");

    private final String id;

    Machine(String id) {
        this.id = id;
    }

    /** The name shown in {@code zone:info} (runtime key {@code machine}) and used in configuration. */
    public String id() {
        return id;
    }

    /** The cheapest machine that has every one of {@code needs}. */
    public static Machine forNeeds(Set<PlatformNeed> needs) {
        if (needs.contains(PlatformNeed.FIRMWARE_ACPI)) {
            return Q35_FIRMWARE;
        }
        return needs.contains(PlatformNeed.PCIE) ? Q35_PVH : MICROVM_PVH;
    }

    /** The machine named {@code id}, as {@link #id()} gives it. */
    public static Machine parse(String id) {
        for (Machine m : values()) {
            if (m.id.equals(id)) {
                return m;
            }
        }
        throw new IllegalArgumentException("machine must be one of " + Arrays.stream(values()).map(Machine::id)
                .collect(Collectors.joining(", ")) + ", not '" + id + "'");
    }

    /** This machine or {@code other}, whichever offers more (q35-firmware has all that q35-pvh has). */
    public Machine atLeast(Machine other) {
        return other.ordinal() > ordinal() ? other : this;
    }

    /** Whether devices sit on PCI (q35) rather than on virtio-mmio (microvm). */
    public boolean pci() {
        return this != MICROVM_PVH;
    }

    /** Whether the kernel boots through firmware (the bzImage) rather than the vmlinux's PVH entry. */
    public boolean firmware() {
        return this == Q35_FIRMWARE;
    }

    /** QEMU's {@code -M} value. */
    String qemuMachine() {
        return qemuMachine(false);
    }

    /**
     * QEMU's {@code -M} value; with {@code serialOnPci}, microvm also gets its PCI Express host bridge, for a
     * virtio-serial bus on PCI ({@link #serialDevice}).
     */
    String qemuMachine(boolean serialOnPci) {
        // q35 without the SATA controller, SMBus and VMware port that -nodefaults leaves on: nothing uses them.
        return pci() ? "q35,sata=off,smbus=off,vmport=off"
                : "microvm,x-option-roms=off,isa-serial=on,rtc=on" + (serialOnPci ? ",pcie=on" : "");
    }

    /**
     * Whether a zone's virtio-serial bus goes on PCI. Always on q35. On microvm, where the rest stays on
     * virtio-mmio, only for a zone with channels whose image is the zone init with its virtio_pci group: QEMU's
     * virtio-mmio offers every queue at 1024 entries (its VIRTQUEUE_MAX_SIZE, whatever the device asked for), and the
     * guest's virtio_console pre-posts a 4 KiB receive buffer per entry and keeps up to one buffer of up to 32 KiB
     * per entry of a port's send queue while the host side has not taken the data: 4 MiB of guest memory per port
     * at boot and up to 32 MiB more per port that the host reads slower than the guest writes, more than a 128 MiB
     * guest has free after boot (measured: a zone writing into a channel whose reader lagged ran out of memory).
     * On PCI the queues are QEMU's 128 entries: 512 KiB and at most 4 MiB per port.
     */
    public boolean serialOnPci(boolean channels, boolean zoneInitWithPci) {
        return pci() || (channels && zoneInitWithPci);
    }

    /** The virtio-serial bus device: {@code virtio-serial-pci} where {@link #serialOnPci} says so. */
    String serialDevice(boolean serialOnPci) {
        return serialOnPci ? "virtio-serial-pci" : virtio("serial");
    }

    /** The QEMU device name of a virtio device of this machine's transport: {@code virtio-net-device} or -pci. */
    String virtio(String kind) {
        return "virtio-" + kind + (pci() ? "-pci" : "-device");
    }

    /** The zone image's module group for this machine's virtio transport (virtio_mmio is in each device group). */
    String transportFeature() {
        return pci() ? "vpci" : null;
    }
}

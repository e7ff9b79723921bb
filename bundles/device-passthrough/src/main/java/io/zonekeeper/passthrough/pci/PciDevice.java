package io.zonekeeper.passthrough.pci;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One PCI function as sysfs shows it at the moment it was read.
 *
 * @param address        its BDF
 * @param vendor         PCI vendor id (0x10de is NVIDIA)
 * @param device         PCI device id
 * @param classCode      the 24-bit class code (0x030200: 3D controller)
 * @param driver         the driver it is bound to, if any
 * @param iommuGroup     its IOMMU group; empty when the IOMMU is off
 * @param resetMethods   from {@code reset_method}; empty when the file is absent (older kernels, or no reset)
 * @param numaNode       the NUMA node, -1 when unknown
 * @param driverOverride the driver named in {@code driver_override}, if set
 */
public record PciDevice(PciAddress address, int vendor, int device, int classCode, Optional<String> driver,
        OptionalInt iommuGroup, List<String> resetMethods, int numaNode, Optional<String> driverOverride) {

    public static final int CLASS_PCI_BRIDGE = 0x0604;
    public static final int CLASS_BASE_DISPLAY = 0x03;
    public static final int CLASS_HOST_BRIDGE = 0x0600;
    public static final int CLASS_ISA_BRIDGE = 0x0601;

    public PciDevice {
        resetMethods = List.copyOf(resetMethods);
    }

    /** A PCI-to-PCI bridge (a root port, a switch port): never assigned, and no obstacle in a group. */
    public boolean isBridge() {
        return (classCode >> 8) == CLASS_PCI_BRIDGE;
    }

    /**
     * A host bridge or an ISA (LPC) bridge: the host's chipset, never given to a zone. Other bridge-class devices
     * are endpoints: an NVSwitch is class 0x0680.
     */
    public boolean isChipset() {
        int sub = classCode >> 8;
        return sub == CLASS_HOST_BRIDGE || sub == CLASS_ISA_BRIDGE;
    }

    /** A display controller: VGA (0x0300), XGA (0x0301), 3D (0x0302, the data-center GPUs) or other (0x0380). */
    public boolean isGpu() {
        return (classCode >> 16) == CLASS_BASE_DISPLAY;
    }

    /** {@code 10de:2331}, as lspci -n shows it. */
    public String vendorDevice() {
        return String.format("%04x:%04x", vendor, device);
    }

    /** {@code 0x030200}, as sysfs shows it. */
    public String classHex() {
        return String.format("0x%06x", classCode);
    }

    public boolean isBoundTo(String driverName) {
        return driver.filter(driverName::equals).isPresent();
    }

    /** {@code nvidia}, or {@code none}, for messages and tables. */
    public String driverName() {
        return driver.orElse("none");
    }
}

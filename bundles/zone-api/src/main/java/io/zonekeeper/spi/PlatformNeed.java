package io.zonekeeper.spi;

/**
 * What a device needs from the guest's machine. A driver picks its fast machine for zones whose devices need none
 * of these, and the slower one only for zones that do (on KVM: microvm with a PVH kernel by default; q35 for PCI
 * Express; q35 booting through firmware for ACPI tables).
 */
public enum PlatformNeed {
    /** A PCI Express topology with root ports, for host PCI functions (q35 on KVM). */
    PCIE,
    /**
     * ACPI tables that firmware builds (a TPM 2.0 is found through its TPM2 table): the kernel boots through
     * firmware, not through a direct PVH entry.
     */
    FIRMWARE_ACPI
}

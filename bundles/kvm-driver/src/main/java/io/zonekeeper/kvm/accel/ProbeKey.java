package io.zonekeeper.kvm.accel;

import java.util.ArrayList;
import java.util.List;

/**
 * What a cached verdict depends on: this host boot (KVM modules and their parameters can change only across
 * reboots), the zone kernel file, and the QEMU version.
 */
record ProbeKey(String bootId, String kernelPath, long kernelSize, long kernelMtimeMillis, String qemuVersion) {

    /** Null when the keys are equal, else which parts differ, e.g. "boot_id, kernel size". */
    String differenceFrom(ProbeKey other) {
        List<String> diff = new ArrayList<>();
        if (!bootId.equals(other.bootId)) {
            diff.add("boot_id");
        }
        if (!kernelPath.equals(other.kernelPath)) {
            diff.add("kernel path");
        }
        if (kernelSize != other.kernelSize) {
            diff.add("kernel size");
        }
        if (kernelMtimeMillis != other.kernelMtimeMillis) {
            diff.add("kernel mtime");
        }
        if (!qemuVersion.equals(other.qemuVersion)) {
            diff.add("qemu version");
        }
        return diff.isEmpty() ? null : String.join(", ", diff);
    }
}

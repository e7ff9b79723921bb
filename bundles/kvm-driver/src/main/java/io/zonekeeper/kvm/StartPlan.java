package io.zonekeeper.kvm;

import java.util.List;
import java.util.UUID;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.kvm.qemu.Machine;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.spi.PreparedResources;

/**
 * Everything one start of one zone needs, worked out once by {@link StartPlanner} before anything runs: the spec
 * and the resources the appliance prepared (both checked), the zone's files, its boot image, the machine its
 * devices need and why, the accelerator, and the QEMU command line made of all of these. Running the plan
 * ({@link KvmDriver#start}) only launches, connects to QMP and records; it decides nothing.
 *
 * @param machineReason for people: which device asked for the machine, or that none needed more
 * @param accel         {@code kvm} or {@code tcg}
 * @param argv          the whole QEMU command line, binary first
 */
record StartPlan(UUID id, String name, ZoneSpec spec, PreparedResources resources, ZoneFiles files,
        BootImage image, Machine machine, String machineReason, String accel, List<String> argv) {
    StartPlan {
        argv = List.copyOf(argv);
    }
}

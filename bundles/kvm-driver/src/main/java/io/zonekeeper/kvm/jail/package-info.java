/**
 * Least privilege for each zone's QEMU: a uid and gid of its own ({@link io.zonekeeper.kvm.jail.JailIds}), an empty
 * chroot, and a cgroup v2 group with the zone's limits ({@link io.zonekeeper.kvm.jail.CgroupHierarchy}), put
 * together per zone by {@link io.zonekeeper.kvm.jail.ZoneJails}.
 */
package io.zonekeeper.kvm.jail;

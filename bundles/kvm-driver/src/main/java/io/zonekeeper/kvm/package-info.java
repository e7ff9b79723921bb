/**
 * The KVM driver: {@link io.zonekeeper.kvm.KvmDriver} runs each zone as its own sandboxed QEMU (microvm, PVH boot)
 * that outlives the driver and the JVM, watches it over QMP, and adopts running guests only on proof (PID, argv
 * uuid, QMP query-uuid). Private to this bundle; zone-core sees it only as a HypervisorDriver service.
 *
 * <p>A start is worked out once, then run: {@link io.zonekeeper.kvm.StartPlanner} checks the zone and builds its
 * {@link io.zonekeeper.kvm.StartPlan} (machine, boot image, accelerator, QEMU command line) in one pass, and the
 * driver only launches that plan, connects to its QMP and records it.
 */
package io.zonekeeper.kvm;

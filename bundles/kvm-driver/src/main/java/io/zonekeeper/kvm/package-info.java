/**
 * The KVM driver: {@link io.zonekeeper.kvm.KvmDriver} runs each zone as its own sandboxed QEMU (microvm, PVH boot)
 * that outlives the driver and the JVM, watches it over QMP, and adopts running guests only on proof (PID, argv
 * uuid, QMP query-uuid). Private to this bundle; zone-core sees it only as a HypervisorDriver service.
 */
package io.zonekeeper.kvm;

/**
 * Which accelerator a zone gets: an ioctl self-test of /dev/kvm through jnr-ffi, then a probe boot of the real
 * zone kernel under KVM with a short deadline, cached per host boot, kernel and QEMU version. Private to the
 * KVM driver bundle; its one entry point is {@link io.zonekeeper.kvm.accel.AcceleratorProbe}.
 */
package io.zonekeeper.kvm.accel;

/**
 * The KVM driver's zone images: the uncompressed vmlinux pulled out of a bzImage's XZ payload (microvm boots it
 * through its PVH entry), and the zone initramfs of each kernel release, written by the zone-image library
 * ({@code io.zonekeeper.image}, embedded in this bundle) with the KVM hooks of the zone init, all cached under
 * {@code <state>/cache/kvm}.
 */
package io.zonekeeper.kvm.image;

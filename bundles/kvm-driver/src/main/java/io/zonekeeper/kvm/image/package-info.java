/**
 * Zone images: the uncompressed vmlinux pulled out of a bzImage's XZ payload, kernel module resolution from
 * modules.dep and modules.softdep, and the busybox initramfs with the zone init, all written from Java and cached
 * under {@code <state>/cache/kvm}.
 */
package io.zonekeeper.kvm.image;

/**
 * The default boot image of Xen zones: the host kernel and a busybox initramfs with the zone init, written as a
 * newc cpio archive by this package (the KVM driver has its own; drivers share no code).
 */
package io.zonekeeper.xen.image;

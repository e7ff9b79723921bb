/**
 * The default boot image of Xen zones: the host kernel and a busybox initramfs with the zone init and its Xen
 * hooks, written by the zone-image library ({@code io.zonekeeper.image}, embedded in this bundle), plus what only
 * Xen zones carry: the kernel's /sbin/poweroff and the vchan proxy with its libraries.
 */
package io.zonekeeper.xen.image;

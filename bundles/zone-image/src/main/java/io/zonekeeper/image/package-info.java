/**
 * The default zone image of the drivers: the host kernel's release ({@link KernelFiles}), the modules its features
 * need ({@link KernelModules}, {@link ModuleGroups}), and a busybox initramfs ({@link ZoneInitramfs}, written as a
 * newc cpio, gzip'd or not as the driver asks, through Commons Compress by {@link InitramfsWriter}, with busybox's
 * applet links) whose init is the one zone init script ({@link ZoneInitScript}) with the hooks of the zone's
 * {@link Hypervisor}.
 *
 * <p>Not exported: each driver embeds this package privately, so that a driver upgrade carries its own copy and
 * refreshes nothing else.
 */
package io.zonekeeper.image;

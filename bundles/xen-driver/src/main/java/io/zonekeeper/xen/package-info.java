/**
 * The Xen driver: runs each zone as a Xen domain from dom0 (xl for libxl, a Java xenstore client, xenconsoled's
 * logs), adopts running domains by their uuid, and watches them. It owns nothing of QEMU.
 */
package io.zonekeeper.xen;

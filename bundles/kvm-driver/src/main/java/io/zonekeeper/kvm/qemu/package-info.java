/**
 * QEMU as a process: rendering a zone spec into arguments ({@link io.zonekeeper.kvm.qemu.QemuCommandLine}), the
 * files it keeps in the zone's folder, launching it in its own session, and proving a PID is a zone's QEMU.
 */
package io.zonekeeper.kvm.qemu;

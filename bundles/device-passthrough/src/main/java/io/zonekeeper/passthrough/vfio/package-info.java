/** Moving devices to vfio-pci and back through sysfs (KVM hosts), each move a transaction with undo. */
package io.zonekeeper.passthrough.vfio;

/** Moving devices to vfio-pci and back through sysfs, each move a transaction with undo. */
package io.zonekeeper.passthrough.vfio;

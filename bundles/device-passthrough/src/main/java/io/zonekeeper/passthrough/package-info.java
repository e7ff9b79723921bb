/**
 * PCI passthrough for zones: what the host has (sysfs), what may be given to a zone (IOMMU groups), taking devices
 * from their drivers and giving them back (vfio-pci), and a durable ledger of who holds what. Private to this
 * bundle; hypervisor drivers will reach it through a device-backend SPI in zone-api.
 */
package io.zonekeeper.passthrough;

/** The host's PCI devices and IOMMU groups as sysfs shows them, and which of them a zone may take. */
package io.zonekeeper.passthrough.pci;

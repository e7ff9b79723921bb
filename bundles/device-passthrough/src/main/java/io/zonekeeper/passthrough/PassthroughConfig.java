package io.zonekeeper.passthrough;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(id = PciDeviceBackend.PID, name = "Zonekeeper device passthrough",
        description = "Where the PCI devices are read from, and how they are handed to guests.")
public @interface PassthroughConfig {
    @AttributeDefinition(description = "The sysfs root: /sys on a host, a fixture tree in tests.")
    String sysfsRoot() default "/sys";

    @AttributeDefinition(description = "auto: xen-pciback through xl on a Xen dom0 (/proc/xen/capabilities says "
            + "control_d), vfio-pci everywhere else; vfio or xen to choose.")
    String mode() default "auto";

    @AttributeDefinition(description = "The xl binary, on a Xen dom0.")
    String xlBinary() default "xl";
}

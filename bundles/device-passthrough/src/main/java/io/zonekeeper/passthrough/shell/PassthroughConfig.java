package io.zonekeeper.passthrough.shell;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(id = DeviceCommands.PID, name = "Zonekeeper device passthrough",
        description = "Where the PCI devices are read from.")
@interface PassthroughConfig {
    @AttributeDefinition(description = "The sysfs root: /sys on a host, a fixture tree in tests.")
    String sysfsRoot() default "/sys";
}

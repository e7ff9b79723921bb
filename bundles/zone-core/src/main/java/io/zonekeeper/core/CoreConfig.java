package io.zonekeeper.core;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Zonekeeper core", description = "Where zones are stored and how long commands wait")
public @interface CoreConfig {
    @AttributeDefinition(description = "State directory, for zone-core and, through its StateLocation service, "
            + "for every bundle; empty means the framework property zonekeeper.state, else /var/lib/zonekeeper")
    String stateDir() default "";

    @AttributeDefinition(description = "Folder of zone spec files (*.json) that the appliance keeps defined and "
            + "running; empty means <zonekeeper.etc>/zones")
    String declaredZonesDir() default "";

    @AttributeDefinition(description = "How long a command on a zone whose driver is away waits for it, seconds")
    int driverWaitSeconds() default 15;

    @AttributeDefinition(description = "Maven-layout repository where driver:upgrade finds group:artifact:version; "
            + "empty means ~/.m2/repository")
    String driverRepository() default "";

    @AttributeDefinition(description = "How long a stop waits for the guest to power off before ending it, seconds")
    int stopGraceSeconds() default 30;
}

package io.zonekeeper.network;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Zonekeeper networks", description = "Where networks are stored and which tools make them")
public @interface NetworkConfig {
    @AttributeDefinition(description = "State directory; empty means the framework property zonekeeper.state, else "
            + "/var/lib/zonekeeper. Networks live in its networks/ folder")
    String stateDir() default "";

    @AttributeDefinition(description = "The iproute2 ip command")
    String ipCommand() default "ip";

    @AttributeDefinition(description = "The nftables nft command, used only by networks with NAT")
    String nftCommand() default "nft";
}

package io.zonekeeper.network;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Zonekeeper networks", description = "Which tools make networks; networks are stored in "
        + "the networks/ folder of the state directory (zone-core's StateLocation)")
public @interface NetworkConfig {
    @AttributeDefinition(description = "The iproute2 ip command")
    String ipCommand() default "ip";

    @AttributeDefinition(description = "The nftables nft command, used only by networks with NAT")
    String nftCommand() default "nft";
}

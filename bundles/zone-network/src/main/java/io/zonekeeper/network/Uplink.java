package io.zonekeeper.network;

/**
 * An interface a NAT network's traffic leaves by, on which the appliance switched IPv4 forwarding on (the replies
 * come in there and are routed to the bridge).
 *
 * @param name             the interface
 * @param forwardingBefore its {@code /proc/sys/net/ipv4/conf/NAME/forwarding} before the appliance first switched it
 *                         on for any NAT network; put back when the last NAT network using the interface is destroyed
 */
public record Uplink(String name, String forwardingBefore) {
}

/**
 * The host side of the guest agent (docs/AGENT-PROTOCOL.md): {@link io.zonekeeper.agent.AgentCodec} frames and
 * parses, strictly and within bounds, since everything from a guest is hostile; {@link io.zonekeeper.agent.AgentLink}
 * is the one multiplexed connection to a zone's agent; {@link io.zonekeeper.agent.ExecSession} one command in it.
 */
package io.zonekeeper.agent;

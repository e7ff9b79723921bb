package io.zonekeeper.agent;

/**
 * One frame of the agent protocol: a type, the session it belongs to (0: the connection itself) and its payload.
 */
public record AgentFrame(int type, int session, byte[] payload) {
    public AgentFrame {
        if (type < 0 || type > 0xFF) {
            throw new IllegalArgumentException("frame type out of range: " + type);
        }
        if (payload.length > AgentCodec.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes is over "
                    + AgentCodec.MAX_PAYLOAD);
        }
    }
}

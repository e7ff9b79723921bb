package io.zonekeeper.agent;

import java.io.IOException;

/** The agent sent something the protocol does not allow; the connection is closed, naming it. */
public final class AgentProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public AgentProtocolException(String message) {
        super(message);
    }
}

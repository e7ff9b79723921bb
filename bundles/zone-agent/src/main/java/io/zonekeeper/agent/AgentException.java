package io.zonekeeper.agent;

/** An exec that the agent refused or could not start (a missing command, a bad user), or a lost connection. */
public final class AgentException extends Exception {
    private static final long serialVersionUID = 1L;

    public AgentException(String message) {
        super(message);
    }

    public AgentException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.zonekeeper.passthrough;

import io.zonekeeper.api.ZoneException;

/**
 * A passthrough operation that could not be done. The message is for the operator: it names the device, says what
 * was wrong and, where it knows, what to do. Unless the message says otherwise, the host was left as it was.
 */
public class PassthroughException extends ZoneException {
    private static final long serialVersionUID = 1L;

    public PassthroughException(String message) {
        super(message);
    }

    public PassthroughException(String message, Throwable cause) {
        super(message, cause);
    }
}

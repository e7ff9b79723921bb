package io.zonekeeper.api;

/**
 * A zone operation that could not be done. The message says what was wrong and, where there is one, what to do
 * about it; the operation changed nothing unless the message says otherwise.
 */
public class ZoneException extends Exception {
    private static final long serialVersionUID = 1L;

    public ZoneException(String message) {
        super(message);
    }

    public ZoneException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.zonekeeper.launcher;

/** The appliance could not start or do what was asked; the message says what was wrong and what to do. */
final class LaunchException extends Exception {
    private static final long serialVersionUID = 1L;

    LaunchException(String message) {
        super(message);
    }

    LaunchException(String message, Throwable cause) {
        super(message, cause);
    }
}

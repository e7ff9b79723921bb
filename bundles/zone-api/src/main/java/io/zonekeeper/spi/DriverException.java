package io.zonekeeper.spi;

import io.zonekeeper.api.ZoneException;

/**
 * A driver could not do what it was asked. The message is for the operator: it says what failed and what to do.
 * A driver that throws from {@link HypervisorDriver#start} must leave nothing behind.
 */
public class DriverException extends ZoneException {
    private static final long serialVersionUID = 1L;

    public DriverException(String message) {
        super(message);
    }

    public DriverException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.zonekeeper.network;

import io.zonekeeper.api.ZoneException;

/** A network operation was refused or failed; it changed nothing unless the message says otherwise. */
public class NetworkException extends ZoneException {
    private static final long serialVersionUID = 1L;

    public NetworkException(String message) {
        super(message);
    }

    public NetworkException(String message, Throwable cause) {
        super(message, cause);
    }
}

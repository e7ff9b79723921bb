package io.zonekeeper.disk;

import io.zonekeeper.api.ZoneException;

/** A disk operation was refused or failed; it changed nothing unless the message says otherwise. */
public class DiskException extends ZoneException {
    private static final long serialVersionUID = 1L;

    public DiskException(String message) {
        super(message);
    }

    public DiskException(String message, Throwable cause) {
        super(message, cause);
    }
}

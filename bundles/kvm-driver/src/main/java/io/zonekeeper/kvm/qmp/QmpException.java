package io.zonekeeper.kvm.qmp;

import java.io.IOException;

/** QMP failed: the socket could not be reached or closed, a reply did not come in time, or QEMU answered an error. */
public class QmpException extends IOException {
    private static final long serialVersionUID = 1L;

    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}

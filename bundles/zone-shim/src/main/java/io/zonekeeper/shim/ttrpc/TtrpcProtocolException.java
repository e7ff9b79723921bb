package io.zonekeeper.shim.ttrpc;

import java.io.IOException;

/** The peer broke the framing; the connection cannot go on, since the next frame's start is unknown. */
public final class TtrpcProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public TtrpcProtocolException(String message) {
        super(message);
    }
}

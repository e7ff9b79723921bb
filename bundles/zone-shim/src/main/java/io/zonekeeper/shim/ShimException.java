package io.zonekeeper.shim;

import io.zonekeeper.shim.ttrpc.TtrpcException;

/** A task service failure with the ttrpc status code containerd gets; the message names the problem. */
public final class ShimException extends Exception {
    private static final long serialVersionUID = 1L;
    public static final int INVALID = TtrpcException.INVALID_ARGUMENT;
    public static final int NOT_FOUND = TtrpcException.NOT_FOUND;
    public static final int EXISTS = TtrpcException.ALREADY_EXISTS;
    public static final int PRECONDITION = TtrpcException.FAILED_PRECONDITION;
    public static final int UNIMPLEMENTED = TtrpcException.UNIMPLEMENTED;
    public static final int INTERNAL = TtrpcException.INTERNAL;

    private final int code;

    public ShimException(int code, String message) {
        super(message);
        this.code = code;
    }

    public ShimException(int code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public int code() {
        return code;
    }
}

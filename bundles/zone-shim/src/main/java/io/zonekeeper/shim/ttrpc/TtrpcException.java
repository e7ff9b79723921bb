package io.zonekeeper.shim.ttrpc;

/**
 * A call's failure as the caller sees it: a gRPC status code and a message. containerd maps the codes to its own
 * errors ({@link #NOT_FOUND} to errdefs.ErrNotFound, {@link #UNIMPLEMENTED} to ErrNotImplemented, ...).
 */
public final class TtrpcException extends Exception {
    private static final long serialVersionUID = 1L;
    public static final int UNKNOWN = 2;
    public static final int INVALID_ARGUMENT = 3;
    public static final int DEADLINE_EXCEEDED = 4;
    public static final int NOT_FOUND = 5;
    public static final int ALREADY_EXISTS = 6;
    public static final int RESOURCE_EXHAUSTED = 8;
    public static final int FAILED_PRECONDITION = 9;
    public static final int UNIMPLEMENTED = 12;
    public static final int INTERNAL = 13;
    public static final int UNAVAILABLE = 14;

    private final int code;

    public TtrpcException(int code, String message) {
        super(message);
        this.code = code;
    }

    public TtrpcException(int code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public int code() {
        return code;
    }
}

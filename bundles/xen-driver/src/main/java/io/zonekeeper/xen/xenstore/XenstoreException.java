package io.zonekeeper.xen.xenstore;

/** xenstored answered with an error (its errno name, such as ENOENT or EACCES), or the connection failed. */
public class XenstoreException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String errno;

    public XenstoreException(String message, String errno) {
        super(message);
        this.errno = errno;
    }

    public XenstoreException(String message, Throwable cause) {
        super(message, cause);
        this.errno = "EIO";
    }

    /** The error's name as xenstored sent it: ENOENT, EACCES, EINVAL, ...; EIO for a broken connection. */
    public String errno() {
        return errno;
    }
}

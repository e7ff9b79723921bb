package io.zonekeeper.api.image;

/** An image operation that could not be done; the message says what was wrong, and nothing was changed. */
public class ImageException extends Exception {
    private static final long serialVersionUID = 1L;

    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}

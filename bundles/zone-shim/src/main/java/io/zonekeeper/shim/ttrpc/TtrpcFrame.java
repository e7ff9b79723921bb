package io.zonekeeper.shim.ttrpc;

/**
 * One ttrpc message frame (containerd/ttrpc PROTOCOL.md): a 10-byte header, then {@code data}. The header is the
 * data length and the stream id, both big-endian unsigned 32-bit, the message type and its flags, one byte each.
 */
public record TtrpcFrame(int streamId, int type, int flags, byte[] data) {
    public static final int HEADER_BYTES = 10;
    /** The protocol's largest data length; a longer frame is refused before anything is allocated for it. */
    public static final int MAX_DATA = 4 << 20;
    public static final int REQUEST = 1;
    public static final int RESPONSE = 2;
    public static final int DATA = 3;
    /** Request and data flag: the sender will send no more data on the stream. */
    public static final int REMOTE_CLOSED = 1;
    /** Request flag: the sender goes on sending data (a streaming request, which this server refuses). */
    public static final int REMOTE_OPEN = 2;

    public TtrpcFrame {
        if (type < 0 || type > 0xFF || flags < 0 || flags > 0xFF) {
            throw new IllegalArgumentException("frame type and flags are one byte each");
        }
        if (data.length > MAX_DATA) {
            throw new IllegalArgumentException("frame data of " + data.length + " bytes; at most " + MAX_DATA);
        }
    }
}

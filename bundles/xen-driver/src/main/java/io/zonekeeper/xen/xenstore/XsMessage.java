package io.zonekeeper.xen.xenstore;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One xenstore wire message: a header of four 32-bit words in the host's byte order (little-endian on x86: type,
 * request id, transaction id, payload length), then the payload. Payloads are NUL-separated strings, except a
 * value written or read, which runs to the end of the payload without a trailing NUL. Pure: no I/O.
 */
public record XsMessage(int type, int reqId, int txId, byte[] payload) {
    public static final int HEADER = 16;
    /** XENSTORE_PAYLOAD_MAX: xenstored refuses longer payloads. */
    public static final int MAX_PAYLOAD = 4096;

    // Message types, numbered as in xs_wire.h.
    public static final int CONTROL = 0;
    public static final int DIRECTORY = 1;
    public static final int READ = 2;
    public static final int GET_PERMS = 3;
    public static final int WATCH = 4;
    public static final int UNWATCH = 5;
    public static final int TRANSACTION_START = 6;
    public static final int TRANSACTION_END = 7;
    public static final int GET_DOMAIN_PATH = 10;
    public static final int WRITE = 11;
    public static final int MKDIR = 12;
    public static final int RM = 13;
    public static final int SET_PERMS = 14;
    public static final int WATCH_EVENT = 15;
    public static final int ERROR = 16;

    public XsMessage {
        if (payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("xenstore payload of " + payload.length + " bytes exceeds "
                    + MAX_PAYLOAD);
        }
    }

    /** A request whose payload is each string followed by a NUL (paths, tokens). */
    public static XsMessage request(int type, int reqId, int txId, String... parts) {
        return new XsMessage(type, reqId, txId, nulTerminated(parts));
    }

    /** A write: the path with its NUL, then the value with none. */
    public static XsMessage write(int reqId, int txId, String path, byte[] value) {
        byte[] p = nulTerminated(path);
        byte[] payload = Arrays.copyOf(p, p.length + value.length);
        System.arraycopy(value, 0, payload, p.length, value.length);
        return new XsMessage(WRITE, reqId, txId, payload);
    }

    static byte[] nulTerminated(String... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String s : parts) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            for (byte x : b) {
                if (x == 0) {
                    throw new IllegalArgumentException("a xenstore path or token cannot contain NUL: " + s);
                }
            }
            out.writeBytes(b);
            out.write(0);
        }
        return out.toByteArray();
    }

    /** The header and payload, ready to send. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(type).putInt(reqId).putInt(txId).putInt(payload.length).put(payload);
        return b.flip();
    }

    /**
     * Takes one whole message off the front of {@code in} (in read mode), or returns null and leaves {@code in}
     * as it was when the message is not complete yet.
     *
     * @throws IllegalStateException when the header announces a payload longer than the protocol allows: the
     *                               stream is out of step and cannot be read further
     */
    public static XsMessage decode(ByteBuffer in) {
        if (in.remaining() < HEADER) {
            return null;
        }
        ByteBuffer h = in.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt();
        int req = h.getInt();
        int tx = h.getInt();
        int len = h.getInt();
        if (len < 0 || len > MAX_PAYLOAD) {
            throw new IllegalStateException("xenstore message announces " + Integer.toUnsignedString(len)
                    + " payload bytes (at most " + MAX_PAYLOAD + "): the stream is corrupt");
        }
        if (h.remaining() < len) {
            return null;
        }
        byte[] payload = new byte[len];
        h.get(payload);
        in.position(h.position());
        return new XsMessage(type, req, tx, payload);
    }

    /** The payload as NUL-separated strings; a trailing NUL does not make an empty last string. */
    public List<String> strings() {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < payload.length; i++) {
            if (payload[i] == 0) {
                out.add(new String(payload, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < payload.length) {
            out.add(new String(payload, start, payload.length - start, StandardCharsets.UTF_8));
        }
        return out;
    }

    /** The payload as one string (a value read), without a trailing NUL if there is one. */
    public String text() {
        int len = payload.length;
        if (len > 0 && payload[len - 1] == 0) {
            len--;
        }
        return new String(payload, 0, len, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof XsMessage m && type == m.type && reqId == m.reqId && txId == m.txId
                && Arrays.equals(payload, m.payload);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * type + reqId) + txId) + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "XsMessage[type " + type + ", req " + reqId + ", tx " + txId + ", " + strings() + "]";
    }
}

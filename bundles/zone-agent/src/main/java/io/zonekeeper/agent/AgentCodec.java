package io.zonekeeper.agent;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The agent protocol's wire format, version 1 (docs/AGENT-PROTOCOL.md). A frame is a big-endian u32 length (of
 * what follows it: 1 + 4 + payload), a u8 type, a u32 session id and at most {@link #MAX_PAYLOAD} bytes of payload.
 * Each direction of a connection starts with {@link #SYNC} and an 8-byte nonce, raw, so the reader of a reused
 * byte stream (a virtio-serial port outlives its connections) finds where the new connection begins.
 *
 * <p>The {@link Reader} takes the guest's bytes: it holds at most one frame, refuses a length, type or payload the
 * protocol does not allow, and never allocates what the guest asks for beyond {@link #MAX_PAYLOAD}.
 */
public final class AgentCodec {
    public static final int VERSION = 1;
    public static final int MAX_PAYLOAD = 65536;
    static final int HEADER = 9;
    static final byte[] SYNC = "ZKAGSYNC".getBytes(StandardCharsets.US_ASCII);
    /** How far the reader looks for SYNC and the nonce before it gives up on the stream as not an agent. */
    static final int MAX_SYNC_SEARCH = 1 << 20;

    // host to agent
    public static final int HELLO = 0x01;
    public static final int EXEC = 0x02;
    public static final int STDIN = 0x03;
    public static final int STDIN_CLOSE = 0x04;
    public static final int SIGNAL = 0x05;
    public static final int RESIZE = 0x06;
    public static final int REATTACH = 0x07;
    public static final int RELEASE = 0x08;
    public static final int OUTPUT_ACK = 0x09;
    // agent to host
    public static final int HELLO_OK = 0x81;
    public static final int STARTED = 0x82;
    public static final int STDOUT = 0x83;
    public static final int STDERR = 0x84;
    public static final int EXIT = 0x85;
    public static final int ERROR = 0x86;
    public static final int ATTACHED = 0x87;
    public static final int STDIN_ACK = 0x88;

    /** Payload sizes the agent's messages must have exactly; -1: variable, checked by its parser. */
    private static int fixedSize(int type) {
        return switch (type) {
            case STARTED -> 4;
            case EXIT -> 5;
            case ATTACHED, STDIN_ACK -> 8;
            case HELLO_OK, STDOUT, STDERR, ERROR -> -1;
            default -> -2;
        };
    }

    private AgentCodec() {
    }

    /** The bytes of one frame. */
    public static byte[] encode(AgentFrame f) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + f.payload().length);
        b.putInt(5 + f.payload().length).put((byte) f.type()).putInt(f.session()).put(f.payload());
        return b.array();
    }

    /** What the host sends first on a connection: SYNC, the nonce, then HELLO with the version and the nonce. */
    public static byte[] hello(long nonce) {
        byte[] hello = encode(new AgentFrame(HELLO, 0, ByteBuffer.allocate(10).putShort((short) VERSION)
                .putLong(nonce).array()));
        return ByteBuffer.allocate(16 + hello.length).put(SYNC).putLong(nonce).put(hello).array();
    }

    public static AgentFrame signal(int session, int signal) {
        if (signal < 1 || signal > 64) {
            throw new IllegalArgumentException("signal number must be 1..64: " + signal);
        }
        return new AgentFrame(SIGNAL, session, new byte[] {(byte) signal});
    }

    public static AgentFrame resize(int session, int rows, int cols) {
        return new AgentFrame(RESIZE, session, ByteBuffer.allocate(4).putShort((short) checkU16(rows, "rows"))
                .putShort((short) checkU16(cols, "cols")).array());
    }

    /** REATTACH or OUTPUT_ACK: the stdout and stderr offsets the host holds. */
    public static AgentFrame offsets(int type, int session, long stdout, long stderr) {
        return new AgentFrame(type, session, ByteBuffer.allocate(16).putLong(stdout).putLong(stderr).array());
    }

    static int checkU16(int v, String what) {
        if (v < 0 || v > 0xFFFF) {
            throw new IllegalArgumentException(what + " must be 0..65535: " + v);
        }
        return v;
    }

    /** An EXIT payload as a shell reports it: the exit code, or 128 + the signal that ended the command. */
    public static int exitStatus(byte[] payload) {
        int kind = payload[0];
        int code = ByteBuffer.wrap(payload, 1, 4).getInt();
        return kind == 0 ? code & 0xFF : 128 + (code & 0x7F);
    }

    /** An ERROR payload: u32 errno, u16 length, UTF-8 message (strictly sized). */
    public static String errorText(byte[] p) throws AgentProtocolException {
        if (p.length < 6) {
            throw new AgentProtocolException("ERROR payload of " + p.length + " bytes is shorter than 6");
        }
        ByteBuffer b = ByteBuffer.wrap(p);
        int errno = b.getInt();
        int n = Short.toUnsignedInt(b.getShort());
        if (n != p.length - 6) {
            throw new AgentProtocolException("ERROR message length " + n + " does not match its payload");
        }
        return printable(new String(p, 6, n, StandardCharsets.UTF_8)) + (errno != 0 ? " (errno " + errno + ")" : "");
    }

    /** The guest's text, shown to people: control characters escaped, so it cannot drive a terminal. */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /**
     * Reads the agent's side of one connection: first SYNC and the expected nonce (skipping what came before, up to
     * {@link #MAX_SYNC_SEARCH} bytes), then frames. Not thread-safe; one per connection.
     */
    public static final class Reader {
        private final byte[] syncBytes;
        private byte[] buf = new byte[HEADER + MAX_PAYLOAD];
        private int len;
        private long skipped;
        private boolean synced;

        public Reader(long nonce) {
            syncBytes = ByteBuffer.allocate(16).put(SYNC).putLong(nonce).array();
        }

        /** Room for the next {@link #feed}: at least 1 byte while a frame is incomplete. */
        public int room() {
            return buf.length - len;
        }

        /** Takes up to {@link #room()} bytes. */
        public void feed(byte[] src, int off, int n) {
            if (n > room()) {
                throw new IllegalArgumentException("feed of " + n + " bytes with room for " + room());
            }
            System.arraycopy(src, off, buf, len, n);
            len += n;
        }

        /** The next whole frame, or null until more bytes come; throws on anything the protocol forbids. */
        public AgentFrame next() throws AgentProtocolException {
            if (!synced) {
                int at = indexOf(buf, len, syncBytes);
                if (at < 0) {
                    int keep = Math.min(len, syncBytes.length - 1);
                    skipped += len - keep;
                    System.arraycopy(buf, len - keep, buf, 0, keep);
                    len = keep;
                    if (skipped > MAX_SYNC_SEARCH) {
                        throw new AgentProtocolException("no agent greeting within " + MAX_SYNC_SEARCH
                                + " bytes: is an agent at the other end?");
                    }
                    return null;
                }
                consume(at + syncBytes.length);
                synced = true;
            }
            if (len < HEADER) {
                return null;
            }
            ByteBuffer b = ByteBuffer.wrap(buf, 0, len);
            long length = Integer.toUnsignedLong(b.getInt());
            int type = Byte.toUnsignedInt(b.get());
            int session = b.getInt();
            if (length < 5 || length > 5 + MAX_PAYLOAD) {
                throw new AgentProtocolException("frame length " + length + " outside 5.." + (5 + MAX_PAYLOAD));
            }
            int size = fixedSize(type);
            if (size == -2) {
                throw new AgentProtocolException(String.format("unknown frame type 0x%02x from the agent", type));
            }
            int payload = (int) length - 5;
            if (size >= 0 && payload != size) {
                throw new AgentProtocolException(String.format("frame type 0x%02x with %d bytes of payload, not %d",
                        type, payload, size));
            }
            if (len < HEADER + payload) {
                return null;
            }
            byte[] p = Arrays.copyOfRange(buf, HEADER, HEADER + payload);
            consume(HEADER + payload);
            return new AgentFrame(type, session, p);
        }

        private void consume(int n) {
            System.arraycopy(buf, n, buf, 0, len - n);
            len -= n;
        }

        private static int indexOf(byte[] hay, int n, byte[] needle) {
            outer:
            for (int i = 0; i + needle.length <= n; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (hay[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }
    }
}

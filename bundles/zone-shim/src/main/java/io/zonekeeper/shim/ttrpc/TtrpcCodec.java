package io.zonekeeper.shim.ttrpc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * Reads and writes {@link TtrpcFrame}s on a byte stream. Everything read is checked before it is trusted: a length
 * over {@link TtrpcFrame#MAX_DATA} (or a set reserved first byte) and an unknown message type end the connection with
 * a {@link TtrpcProtocolException} naming the offence, and no buffer larger than the data actually announced within
 * bounds is ever allocated.
 */
public final class TtrpcCodec {
    private TtrpcCodec() {
    }

    /** The next frame, or null at a clean end of stream (between frames). */
    public static TtrpcFrame read(InputStream in) throws IOException {
        byte[] header = new byte[TtrpcFrame.HEADER_BYTES];
        int got = readFully(in, header);
        if (got == 0) {
            return null;
        }
        if (got < header.length) {
            throw new TtrpcProtocolException("the stream ended inside a frame header (" + got + " of "
                    + header.length + " bytes)");
        }
        long length = u32(header, 0);
        long stream = u32(header, 4);
        int type = header[8] & 0xFF;
        int flags = header[9] & 0xFF;
        if (length > TtrpcFrame.MAX_DATA) {
            throw new TtrpcProtocolException("frame of " + length + " bytes; ttrpc allows at most "
                    + TtrpcFrame.MAX_DATA);
        }
        if (type < TtrpcFrame.REQUEST || type > TtrpcFrame.DATA) {
            throw new TtrpcProtocolException("unknown ttrpc message type " + type + " on stream " + stream);
        }
        byte[] data = new byte[(int) length];
        int n = readFully(in, data);
        if (n < data.length) {
            throw new TtrpcProtocolException("the stream ended inside a frame: " + n + " of " + length
                    + " data bytes on stream " + stream);
        }
        return new TtrpcFrame((int) stream, type, flags, data);
    }

    /** Writes one frame; callers that share a stream hold its lock around this. */
    public static void write(OutputStream out, TtrpcFrame f) throws IOException {
        byte[] buf = new byte[TtrpcFrame.HEADER_BYTES + f.data().length];
        putU32(buf, 0, f.data().length);
        putU32(buf, 4, f.streamId());
        buf[8] = (byte) f.type();
        buf[9] = (byte) f.flags();
        System.arraycopy(f.data(), 0, buf, TtrpcFrame.HEADER_BYTES, f.data().length);
        out.write(buf);
        out.flush();
    }

    /**
     * Streams over a socket channel that read and write without one shared lock: the JDK's
     * {@code Channels.newInputStream} and {@code newOutputStream} both hold the channel's blocking lock, so a write
     * would wait for a blocked read to end (a server answering one call while it waits for the next would hang).
     */
    public static InputStream input(ByteChannel ch) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return ch.read(ByteBuffer.wrap(b, off, len));
            }
        };
    }

    public static OutputStream output(ByteChannel ch) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] { (byte) b }, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        };
    }

    private static int readFully(InputStream in, byte[] b) throws IOException {
        int off = 0;
        while (off < b.length) {
            int n = in.read(b, off, b.length - off);
            if (n < 0) {
                return off;
            }
            off += n;
        }
        return off;
    }

    private static long u32(byte[] b, int at) {
        return ((b[at] & 0xFFL) << 24) | ((b[at + 1] & 0xFFL) << 16) | ((b[at + 2] & 0xFFL) << 8) | (b[at + 3] & 0xFFL);
    }

    private static void putU32(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

}

package io.zonekeeper.control;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * A session's stdout or stderr: sends each completed line as soon as it is written, so a long command's progress
 * reaches the client live, and whatever is left on flush. Never splits a UTF-8 sequence across two frames.
 */
final class FrameOutputStream extends OutputStream {

    /** A line longer than this goes out in pieces rather than waiting for its end. */
    static final int MAX_PENDING = 8192;

    private final FrameWriter frames;
    private final String stream;
    private byte[] pending = new byte[256];
    private int count;

    private final boolean binary;

    FrameOutputStream(FrameWriter frames, String stream) {
        this(frames, stream, false);
    }

    /** {@code binary}: every write goes out at once, as base64 in {@code outb}/{@code errb}, byte for byte. */
    FrameOutputStream(FrameWriter frames, String stream, boolean binary) {
        this.frames = frames;
        this.stream = stream;
        this.binary = binary;
    }

    @Override
    public synchronized void write(int b) {
        append(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        append(b, off, len);
    }

    private void append(byte[] b, int off, int len) {
        if (count + len > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, count + len));
        }
        System.arraycopy(b, off, pending, count, len);
        count += len;
        if (binary) {
            emit(count);
            return;
        }
        int lineEnd = lastLineEnd();
        if (lineEnd > 0) {
            emit(lineEnd);
        } else if (count >= MAX_PENDING) {
            emit(utf8Boundary(pending, count));
        }
    }

    @Override
    public synchronized void flush() {
        emit(binary ? count : utf8Boundary(pending, count));
    }

    @Override
    public synchronized void close() {
        // A truncated sequence at the very end goes out as a replacement character rather than being lost.
        emit(count);
    }

    /** Length of the prefix that ends with the last newline (or carriage return), 0 if none. */
    private int lastLineEnd() {
        for (int i = count - 1; i >= 0; i--) {
            if (pending[i] == '\n' || pending[i] == '\r') {
                return i + 1;
            }
        }
        return 0;
    }

    private void emit(int length) {
        if (length <= 0) {
            return;
        }
        if (binary) {
            // At most MAX_PENDING bytes a frame, so a frame stays well under the client's line limit.
            for (int at = 0; at < length; at += MAX_PENDING) {
                frames.write(stream + "b", Base64.getEncoder().encodeToString(
                        Arrays.copyOfRange(pending, at, Math.min(length, at + MAX_PENDING))));
            }
            System.arraycopy(pending, length, pending, 0, count - length);
            count -= length;
            return;
        }
        String text = new String(pending, 0, length, StandardCharsets.UTF_8);
        System.arraycopy(pending, length, pending, 0, count - length);
        count -= length;
        frames.write(stream, text);
    }

    /** The longest prefix of {@code bytes[0..count)} that does not end inside a UTF-8 sequence. */
    static int utf8Boundary(byte[] bytes, int count) {
        for (int back = 1; back <= Math.min(4, count); back++) {
            int b = bytes[count - back] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue; // continuation byte: keep looking for the lead byte
            }
            int need = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            return back >= need ? count : count - back;
        }
        return count;
    }
}

package io.zonekeeper.hostio;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads the end of a file that another party keeps writing (a guest's console log), never more than a bound: the
 * file may be as large as the guest made it, the reader's heap is small. Seeks to the last {@code maxBytes} bytes.
 */
public final class FileTail {
    /** At most {@code maxBytes} bytes of the file, its newest ones. */
    public record Tail(byte[] bytes, long fileSize) {
        /** Whether the file holds more than was read. */
        public boolean cut() {
            return fileSize > bytes.length;
        }

        /**
         * The bytes as UTF-8 text (malformed sequences become U+FFFD); when the tail was cut, from the first whole
         * line on, so that no line shows with its start missing (unless the tail holds no newline at all).
         */
        public String text() {
            int from = 0;
            if (cut()) {
                for (int i = 0; i < bytes.length - 1; i++) {
                    if (bytes[i] == '\n') {
                        from = i + 1;
                        break;
                    }
                }
            }
            return new String(bytes, from, bytes.length - from, StandardCharsets.UTF_8);
        }
    }

    private FileTail() {
    }

    /** The last {@code maxBytes} bytes of {@code file}; an empty tail when it does not exist. */
    public static Tail read(Path file, int maxBytes) throws IOException {
        return read(file, Long.MAX_VALUE, maxBytes);
    }

    /**
     * At most {@code maxBytes} bytes of {@code file}, ending at {@code end} or at the file's end if that is
     * nearer (a file may shrink while it is read, when it is rotated).
     */
    public static Tail read(Path file, long end, int maxBytes) throws IOException {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must not be negative, not " + maxBytes);
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long size = f.length();
            long to = Math.min(size, end);
            long from = Math.max(0, to - maxBytes);
            return new Tail(readRange(f, from, to), size);
        } catch (FileNotFoundException e) {
            if (!file.toFile().exists()) {
                return new Tail(new byte[0], 0);
            }
            throw e;
        }
    }

    /** The bytes of {@code file} from {@code from} on, at most {@code maxBytes} of them (for following a file). */
    public static byte[] readFrom(Path file, long from, int maxBytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long to = Math.min(f.length(), from + maxBytes);
            return from >= to ? new byte[0] : readRange(f, from, to);
        } catch (FileNotFoundException e) {
            if (!file.toFile().exists()) {
                return new byte[0];
            }
            throw e;
        }
    }

    /**
     * The last {@code n} non-blank lines within the last {@code maxBytes} bytes, each stripped and escaped
     * ({@link GuestText#escape}): for a crash reason or a report, which stores them. Empty when the file does not
     * exist or cannot be read.
     */
    public static List<String> lastLines(Path file, int n, int maxBytes) {
        String text;
        try {
            text = read(file, maxBytes).text();
        } catch (IOException e) {
            return List.of();
        }
        List<String> lines = new ArrayList<>();
        for (String l : text.split("\r?\n")) {
            if (!l.isBlank()) {
                lines.add(GuestText.escape(l.strip()));
            }
        }
        return lines.subList(Math.max(0, lines.size() - n), lines.size());
    }

    private static byte[] readRange(RandomAccessFile f, long from, long to) throws IOException {
        byte[] b = new byte[(int) (to - from)];
        f.seek(from);
        int got = 0;
        while (got < b.length) {
            int r = f.read(b, got, b.length - got);
            if (r < 0) {
                break; // truncated meanwhile
            }
            got += r;
        }
        return got == b.length ? b : Arrays.copyOf(b, got);
    }
}

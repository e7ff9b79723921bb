package io.zonekeeper.core.shell;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import io.zonekeeper.hostio.FileTail;

/**
 * Looks for a text in a console log that its guest keeps writing, reading it in bounded steps: first its last
 * {@code window} bytes, then what was appended since, at most {@code window} bytes a step, keeping the last
 * {@code text.length - 1} bytes of each step so a text split between two steps is still found. A log that shrank
 * was rotated; the search goes on from the last {@code window} bytes of the new one. Matches the raw bytes of the
 * log (escape sequences included) against the text's UTF-8 bytes.
 */
final class ConsoleFollow {
    private final Path log;
    private final String needle;
    private final int window;
    private long position = -1;
    private String carry = "";

    ConsoleFollow(Path log, String text, int window) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("the text to wait for is empty");
        }
        this.log = log;
        // ISO-8859-1 maps each byte to one char, so indexOf on it compares bytes.
        this.needle = new String(text.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
        this.window = Math.max(window, needle.length() * 2);
    }

    /**
     * Reads one more step of the log.
     *
     * @return whether the text is in what was read so far
     */
    boolean step() throws IOException {
        long size = Files.isRegularFile(log) ? Files.size(log) : 0;
        if (position < 0 || size < position) {
            position = Math.max(0, size - window);
            carry = "";
        }
        byte[] b = FileTail.readFrom(log, position, window);
        position += b.length;
        String seen = carry + new String(b, StandardCharsets.ISO_8859_1);
        if (seen.contains(needle)) {
            return true;
        }
        carry = seen.substring(Math.max(0, seen.length() - (needle.length() - 1)));
        return false;
    }

    /** Whether the last step stopped short of the end of the log (the guest writes faster than one step a poll). */
    boolean behind() throws IOException {
        return Files.isRegularFile(log) && Files.size(log) > position;
    }
}

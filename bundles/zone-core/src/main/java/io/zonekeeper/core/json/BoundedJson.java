package io.zonekeeper.core.json;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonLocation;
import jakarta.json.stream.JsonParser;
import jakarta.json.stream.JsonParsingException;

/**
 * Reads JSON that an operator's typo or another process can shape, within a size and a nesting limit. The
 * object-building reader recurses once per level, so a file nested 20,000 deep throws StackOverflowError; the
 * streaming parser keeps its own stack, so walking its events first bounds the depth before any object is built.
 */
public final class BoundedJson {
    /** Far more than any record of ours nests (a zone record is 4 deep), far less than the stack allows. */
    public static final int MAX_DEPTH = 32;
    /** A spec or record file is a few KiB; a MiB is generous and still harmless to hold in memory. */
    public static final int MAX_BYTES = 1 << 20;

    private BoundedJson() {
    }

    /**
     * Parses {@code text}, first checking its nesting and size.
     *
     * @throws JsonParsingException when it is not JSON, saying where
     * @throws LimitExceeded when it nests deeper than {@link #MAX_DEPTH}, is longer than {@link #MAX_BYTES} or holds
     *         a number whose exponent does not fit an int
     */
    public static JsonValue read(String text) {
        return read(text, MAX_DEPTH);
    }

    static JsonValue read(String text, int maxDepth) {
        if (text.length() > MAX_BYTES) {
            throw new LimitExceeded("is longer than " + MAX_BYTES + " characters");
        }
        checkDepth(text, maxDepth);
        try (JsonReader reader = Json.createReader(new StringReader(text))) {
            return reader.readValue();
        } catch (NumberFormatException | ArithmeticException e) {
            // BigDecimal refuses exponents beyond an int ("64e1111111111111"): well formed JSON, but no number of ours.
            throw new LimitExceeded("holds a number out of range (" + e.getMessage() + ")");
        }
    }

    /** Reads a file as UTF-8, refusing it unread when it is longer than {@link #MAX_BYTES}. */
    public static String readFile(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            // Read one byte past the limit rather than trusting the size, which a growing file can outrun.
            byte[] bytes = in.readNBytes(MAX_BYTES + 1);
            if (bytes.length > MAX_BYTES) {
                throw new IOException(file + " is longer than " + MAX_BYTES + " bytes; refused unread");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    /** JSON that may be well formed but is too big or too deep to be one of ours. */
    public static final class LimitExceeded extends JsonException {
        private static final long serialVersionUID = 1L;

        LimitExceeded(String message) {
            super(message);
        }
    }

    private static void checkDepth(String text, int maxDepth) {
        try (JsonParser parser = Json.createParser(new StringReader(text))) {
            int depth = 0;
            while (parser.hasNext()) {
                switch (parser.next()) {
                    case START_OBJECT, START_ARRAY -> {
                        if (++depth > maxDepth) {
                            JsonLocation at = parser.getLocation();
                            throw new LimitExceeded("nests deeper than " + maxDepth + " levels (line "
                                    + at.getLineNumber() + ", column " + at.getColumnNumber() + ")");
                        }
                    }
                    case END_OBJECT, END_ARRAY -> depth--;
                    default -> {
                    }
                }
            }
        }
    }
}

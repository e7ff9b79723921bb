package io.zonekeeper.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import io.zonekeeper.api.image.ImageException;
import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonReader;
import jakarta.json.JsonStructure;
import jakarta.json.JsonValue;

/** Reads the JSON documents of an image source, naming the file when one is not JSON of the expected shape. */
final class JsonFiles {
    /** No image document comes near this; a larger one is refused before it is parsed. */
    static final long MAX_BYTES = 16L << 20;

    private JsonFiles() {
    }

    static <T extends JsonValue> T read(Path file, Class<T> type, String what) throws ImageException {
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new ImageException(what + " is larger than " + (MAX_BYTES >> 20) + " MiB; refused");
            }
            try (InputStream in = Files.newInputStream(file); JsonReader r = Json.createReader(in)) {
                JsonStructure s = r.read();
                if (!type.isInstance(s)) {
                    throw new ImageException(what + " is JSON but not a " + type.getSimpleName().replace("Json", "")
                            .toLowerCase(java.util.Locale.ROOT));
                }
                return type.cast(s);
            }
        } catch (JsonException e) {
            throw new ImageException(what + " is not valid JSON: " + e.getMessage(), e);
        } catch (NumberFormatException | ArithmeticException e) {
            // An image's JSON is anyone's: BigDecimal refuses an exponent beyond an int.
            throw new ImageException(what + " holds a number out of range: " + e.getMessage(), e);
        } catch (StackOverflowError e) {
            // The object reader recurses once per level; unwound, nothing of it is left.
            throw new ImageException(what + " is JSON nested too deep to read");
        } catch (IOException e) {
            throw new ImageException(what + " cannot be read: " + e.getMessage(), e);
        }
    }
}

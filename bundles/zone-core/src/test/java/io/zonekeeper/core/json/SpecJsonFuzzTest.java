package io.zonekeeper.core.json;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;

import com.code_intelligence.jazzer.junit.FuzzTest;

import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneSpec;

import jakarta.json.JsonException;

/**
 * The spec reader, fed any bytes: a spec file in etc/zones or a zone:create argument is the operator's text, or
 * whatever a typo or another process made of it. Its contract is a spec or an {@link InvalidSpecException} that
 * names the problem; any other exception or error (a StackOverflowError from deep nesting, a ClassCastException
 * from a value of the wrong type) fails. A spec it accepts must survive being written back and read again.
 * The corpus and every crash found are kept under {@code SpecJsonFuzzTestInputs/specJson}.
 */
class SpecJsonFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void specJson(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        try {
            BoundedJson.read(text);
        } catch (JsonException expected) {
            // malformed, too deep or too big: refused with its reason
        }
        ZoneSpec spec;
        try {
            spec = SpecJson.parse(text);
        } catch (InvalidSpecException refused) {
            return;
        }
        try {
            assertEquals(spec, SpecJson.parse(SpecJson.toJson(spec).toString()), "a spec written back reads the same");
        } catch (InvalidSpecException e) {
            throw new AssertionError("a spec it accepted is refused once written back: " + e.getMessage(), e);
        }
    }
}

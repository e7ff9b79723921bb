package io.zonekeeper.launcher;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import jakarta.json.JsonException;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.spi.JsonProvider;

/**
 * Reads OSGi R8 feature JSON: {@code {"id": "...", "bundles": [{"id": "g:a:v", "start-order": N}, ...]}}.
 * Everything else in a feature (configurations, extensions, framework properties) is left to other tools; the
 * launcher only installs bundles. Every error names the file and what is wrong in it.
 */
final class FeatureReader {

    private final JsonProvider json = JsonProvider.provider();

    Feature read(Path file) throws LaunchException {
        JsonValue root;
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
             var parser = json.createReader(reader)) {
            root = parser.readValue();
        } catch (NoSuchFileException e) {
            throw problem(file, "no such file");
        } catch (IOException e) {
            throw problem(file, "cannot read it: " + e.getMessage());
        } catch (JsonException e) {
            throw problem(file, "not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof JsonObject)) {
            throw problem(file, "expected a JSON object at the top, found " + kind(root));
        }
        JsonObject feature = (JsonObject) root;
        String id = feature.get("id") instanceof JsonString ? ((JsonString) feature.get("id")).getString()
                : file.getFileName().toString();
        JsonValue bundles = feature.get("bundles");
        if (bundles == null) {
            throw problem(file, "has no \"bundles\" array");
        }
        if (bundles.getValueType() != JsonValue.ValueType.ARRAY) {
            throw problem(file, "\"bundles\" must be an array, found " + kind(bundles));
        }
        List<Feature.Bundle> result = new ArrayList<>();
        int index = 0;
        for (JsonValue entry : bundles.asJsonArray()) {
            result.add(bundle(file, index++, entry));
        }
        return new Feature(file, id, List.copyOf(result));
    }

    private static Feature.Bundle bundle(Path file, int index, JsonValue entry) throws LaunchException {
        String where = "bundles[" + index + "]";
        String idText;
        JsonValue startOrder = null;
        if (entry instanceof JsonString) {
            idText = ((JsonString) entry).getString();
        } else if (entry instanceof JsonObject) {
            JsonValue id = ((JsonObject) entry).get("id");
            if (!(id instanceof JsonString)) {
                throw problem(file, where + " has no string \"id\"");
            }
            idText = ((JsonString) id).getString();
            startOrder = ((JsonObject) entry).get("start-order");
        } else {
            throw problem(file, where + " must be an object {\"id\": \"group:artifact:version\"} or a string, found "
                    + kind(entry));
        }
        ArtifactId id;
        try {
            id = ArtifactId.parse(idText);
        } catch (IllegalArgumentException e) {
            throw problem(file, where + ": " + e.getMessage());
        }
        int order = Feature.DEFAULT_START_ORDER;
        if (startOrder != null) {
            order = startOrder(file, where, startOrder);
        }
        return new Feature.Bundle(id, order);
    }

    private static int startOrder(Path file, String where, JsonValue value) throws LaunchException {
        // Sling writes start-order as a string as often as a number; take both.
        String text;
        if (value instanceof JsonNumber && ((JsonNumber) value).isIntegral()) {
            text = ((JsonNumber) value).bigIntegerValue().toString();
        } else if (value instanceof JsonString) {
            text = ((JsonString) value).getString().trim();
        } else {
            throw problem(file, where + ": \"start-order\" must be a whole number, found " + value);
        }
        try {
            int order = Integer.parseInt(text);
            if (order < 1) {
                throw problem(file, where + ": \"start-order\" must be 1 or more, found " + order);
            }
            return order;
        } catch (NumberFormatException e) {
            throw problem(file, where + ": \"start-order\" must be a whole number, found " + value);
        }
    }

    private static String kind(JsonValue value) {
        return value.getValueType().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static LaunchException problem(Path file, String message) {
        return new LaunchException("feature file " + file + ": " + message);
    }
}

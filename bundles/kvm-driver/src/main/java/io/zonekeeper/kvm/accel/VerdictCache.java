package io.zonekeeper.kvm.accel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import jakarta.json.JsonWriter;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * Verdicts on disk, one JSON file per zone kernel path, each holding the {@link ProbeKey} it was decided under.
 * Written atomically (temp file, fsync, rename, fsync of the folder) so a crash never leaves half a verdict.
 */
final class VerdictCache {

    static final int FORMAT = 1;

    /** A cache answer: the verdict when the stored key matches, and a line saying why or why not. */
    record Lookup(AccelVerdict verdict, String line) {
        boolean hit() {
            return verdict != null;
        }
    }

    private final Path dir;

    VerdictCache(Path dir) {
        this.dir = dir;
    }

    Path fileFor(String kernelPath) {
        return dir.resolve("accel-" + sha256(kernelPath).substring(0, 16) + ".json");
    }

    Lookup lookup(ProbeKey key) {
        Path file = fileFor(key.kernelPath());
        if (!Files.exists(file)) {
            return new Lookup(null, "miss: no cached verdict");
        }
        JsonObject root;
        try (InputStream in = Files.newInputStream(file); JsonReader r = Json.createReader(in)) {
            root = r.readObject();
        } catch (IOException | JsonException | IllegalStateException e) {
            return new Lookup(null, "miss: unreadable " + file.getFileName() + " (" + e.getMessage() + ")");
        }
        try {
            if (root.getInt("format", -1) != FORMAT) {
                return new Lookup(null, "miss: cache format " + root.getInt("format", -1));
            }
            ProbeKey stored = readKey(root.getJsonObject("key"));
            String diff = stored.differenceFrom(key);
            if (diff != null) {
                return new Lookup(null, "miss: " + diff + " changed");
            }
            JsonObject v = root.getJsonObject("verdict");
            Map<String, String> steps = new LinkedHashMap<>();
            steps.put("cache", "hit: decided " + root.getString("decidedAt", "?"));
            v.getJsonObject("steps").forEach((k, val) -> {
                // the stored decision's own cache lines describe that first run, not this lookup
                if (!k.equals("cache") && !k.equals("cache store")) {
                    steps.put(k, val.getValueType() == JsonValue.ValueType.STRING
                            ? ((jakarta.json.JsonString) val).getString() : val.toString());
                }
            });
            return new Lookup(new AccelVerdict(v.getString("accel"), v.getString("reason"), steps), "hit");
        } catch (RuntimeException e) {
            // missing fields, wrong types, an accel that is neither kvm nor tcg: decide afresh
            return new Lookup(null, "miss: malformed " + file.getFileName() + " (" + e + ")");
        }
    }

    void store(ProbeKey key, AccelVerdict verdict, Instant decidedAt) throws IOException {
        JsonObjectBuilder steps = Json.createObjectBuilder();
        verdict.steps().forEach(steps::add);
        JsonObject root = Json.createObjectBuilder()
                .add("format", FORMAT)
                .add("decidedAt", decidedAt.toString())
                .add("key", Json.createObjectBuilder()
                        .add("bootId", key.bootId())
                        .add("kernelPath", key.kernelPath())
                        .add("kernelSize", key.kernelSize())
                        .add("kernelMtimeMillis", key.kernelMtimeMillis())
                        .add("qemuVersion", key.qemuVersion()))
                .add("verdict", Json.createObjectBuilder()
                        .add("accel", verdict.accel())
                        .add("reason", verdict.reason())
                        .add("steps", steps))
                .build();
        AtomicFiles.write(fileFor(key.kernelPath()), out -> {
            try (JsonWriter w = Json.createWriter(out)) {
                w.writeObject(root);
            }
        });
    }

    private static ProbeKey readKey(JsonObject k) {
        return new ProbeKey(k.getString("bootId"), k.getString("kernelPath"),
                k.getJsonNumber("kernelSize").longValueExact(), k.getJsonNumber("kernelMtimeMillis").longValueExact(),
                k.getString("qemuVersion"));
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

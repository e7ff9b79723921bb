package io.zonekeeper.core.store;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.json.BoundedJson;
import io.zonekeeper.core.json.SpecJson;
import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.spi.RuntimeRecord;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * The durable zone store: one folder per zone under {@code <state>/zones/NAME}, holding {@code zone.json}
 * (identity, spec, state) and {@code runtime.json} (what the driver needs to find the guest again). Every write
 * is atomic. A zone folder that cannot be read is moved to {@code <state>/quarantine/} and reported, never
 * silently dropped.
 */
public final class ZoneStore {
    static final String ZONE_FILE = "zone.json";
    static final String RUNTIME_FILE = "runtime.json";
    private final Path zonesDir;
    private final Path quarantineDir;

    /** A zone folder that could not be read, and where it was moved. */
    public record Quarantined(String name, Path movedTo, String problem) {
    }

    public ZoneStore(Path stateDir) throws IOException {
        this.zonesDir = stateDir.resolve("zones");
        this.quarantineDir = stateDir.resolve("quarantine");
        Files.createDirectories(zonesDir);
        try {
            Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException | IOException e) {
            // Not a POSIX file system; permissions are the operator's business there.
        }
    }

    public Path zoneDirectory(String name) {
        return zonesDir.resolve(name);
    }

    /** Loads every zone; unreadable ones are quarantined and returned in {@code quarantined}. */
    public List<ZoneRecord> loadAll(List<Quarantined> quarantined) throws IOException {
        List<ZoneRecord> records = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(zonesDir, Files::isDirectory)) {
            for (Path dir : dirs) {
                String name = dir.getFileName().toString();
                if (name.startsWith(".")) {
                    // A half-made zone from a crash during create: it never existed for anyone.
                    deleteTree(dir);
                    continue;
                }
                try {
                    ZoneRecord r = read(dir);
                    if (!r.spec().name().equals(name)) {
                        throw new IOException("its spec names zone '" + r.spec().name() + "'");
                    }
                    records.add(r);
                } catch (IOException | RuntimeException | InvalidSpecException e) {
                    quarantined.add(quarantine(dir, e.getMessage()));
                }
            }
        }
        records.sort(Comparator.comparing(r -> r.spec().name()));
        return records;
    }

    /**
     * Stores a new zone. The folder is made under a hidden name and renamed into place, so a crash never leaves
     * a half-made zone that looks real.
     */
    public void create(ZoneRecord record) throws IOException {
        Path dir = zoneDirectory(record.spec().name());
        if (Files.exists(dir)) {
            throw new IOException("zone folder " + dir + " exists already");
        }
        Path tmp = zonesDir.resolve("." + record.spec().name() + ".creating");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        try {
            AtomicFiles.writeString(tmp.resolve(ZONE_FILE), toJson(record).toString());
            AtomicFiles.rename(tmp, dir);
        } finally {
            deleteTree(tmp);
        }
    }

    public void update(ZoneRecord record) throws IOException {
        AtomicFiles.writeString(zoneDirectory(record.spec().name()).resolve(ZONE_FILE), toJson(record).toString());
    }

    public void saveRuntime(String zone, RuntimeRecord runtime) throws IOException {
        JsonObjectBuilder props = Json.createObjectBuilder();
        runtime.properties().forEach(props::add);
        JsonObject o = Json.createObjectBuilder().add("driver", runtime.driver()).add("properties", props).build();
        AtomicFiles.writeString(zoneDirectory(zone).resolve(RUNTIME_FILE), o.toString());
    }

    public Optional<RuntimeRecord> loadRuntime(String zone) throws IOException {
        Path file = zoneDirectory(zone).resolve(RUNTIME_FILE);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        JsonObject o;
        try {
            o = BoundedJson.read(BoundedJson.readFile(file)).asJsonObject();
        } catch (RuntimeException e) {
            throw new IOException(file + " is not a runtime record: " + e.getMessage(), e);
        }
        Map<String, String> props = new HashMap<>();
        for (Map.Entry<String, JsonValue> e : o.getJsonObject("properties").entrySet()) {
            props.put(e.getKey(), ((JsonString) e.getValue()).getString());
        }
        return Optional.of(new RuntimeRecord(o.getString("driver"), props));
    }

    public void clearRuntime(String zone) throws IOException {
        AtomicFiles.delete(zoneDirectory(zone).resolve(RUNTIME_FILE));
    }

    /** Removes the zone's folder and everything in it. */
    public void delete(String zone) throws IOException {
        Path dir = zoneDirectory(zone);
        // Rename first so that a crash half-way through the delete leaves a hidden folder, not a broken zone.
        Path doomed = zonesDir.resolve("." + zone + ".deleting-" + System.nanoTime());
        AtomicFiles.rename(dir, doomed);
        deleteTree(doomed);
        AtomicFiles.fsyncDirectory(zonesDir);
    }

    static JsonObject toJson(ZoneRecord r) {
        JsonObjectBuilder o = Json.createObjectBuilder().add("id", r.id().toString())
                .add("spec", SpecJson.toJson(r.spec())).add("state", r.state().name()).add("reason", r.reason())
                .add("since", r.since().toString()).add("desiredRunning", r.desiredRunning());
        if (r.driver() != null) {
            o.add("driver", r.driver());
        }
        return o.build();
    }

    static ZoneRecord read(Path dir) throws IOException, InvalidSpecException {
        Path file = dir.resolve(ZONE_FILE);
        if (!Files.exists(file)) {
            throw new IOException(ZONE_FILE + " is missing");
        }
        JsonObject o;
        try {
            o = BoundedJson.read(BoundedJson.readFile(file)).asJsonObject();
        } catch (RuntimeException e) {
            throw new IOException(ZONE_FILE + " is not valid JSON: " + e.getMessage());
        }
        try {
            UUID id = UUID.fromString(o.getString("id"));
            var spec = SpecJson.fromJson(o.getJsonObject("spec")).requireValidOr();
            ZoneState state = ZoneState.valueOf(o.getString("state"));
            Instant since = Instant.parse(o.getString("since"));
            return new ZoneRecord(id, spec, state, o.getString("reason", ""), since, o.getString("driver", null),
                    o.getBoolean("desiredRunning", false));
        } catch (NullPointerException | ClassCastException | IllegalArgumentException
                | java.time.format.DateTimeParseException e) {
            throw new IOException(ZONE_FILE + " has a missing or broken field: " + e.getMessage());
        }
    }

    private Quarantined quarantine(Path dir, String problem) throws IOException {
        Files.createDirectories(quarantineDir);
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
        Path target = quarantineDir.resolve(dir.getFileName() + "-" + stamp);
        for (int i = 1; Files.exists(target); i++) {
            target = quarantineDir.resolve(dir.getFileName() + "-" + stamp + "-" + i);
        }
        AtomicFiles.rename(dir, target);
        AtomicFiles.writeString(target.resolve("QUARANTINED.txt"), "Moved here on " + Instant.now()
                + " because it could not be read: " + problem + "\n");
        return new Quarantined(dir.getFileName().toString(), target, problem);
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
        // A destroyed zone must not come back after a power loss.
        AtomicFiles.fsyncDirectory(dir.toAbsolutePath().getParent());
    }
}

package io.zonekeeper.shim;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

import io.zonekeeper.hostio.AtomicFiles;
import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

/**
 * What the appliance keeps about one container task, in {@code <state>/shim/tasks/<zone>.json} (written whole with
 * AtomicFiles), so that a restarted appliance answers containerd's Connect, State, Kill, Wait and Delete for the task
 * whose zone kept running meanwhile.
 *
 * @param status      {@code created}, {@code running} or {@code stopped}
 * @param exitStatus  the process's exit status once stopped
 * @param exitedAt    when it stopped, or null
 */
record TaskRecord(String namespace, String id, String zone, String bundle, String image, String stdin,
        String stdout, String stderr, boolean terminal, String eventsAddress, String status, int pid,
        int exitStatus, Instant exitedAt) {
    static final String CREATED = "created";
    static final String RUNNING = "running";
    static final String STOPPED = "stopped";

    TaskRecord with(String newStatus, int newPid, int newExit, Instant newExitedAt) {
        return new TaskRecord(namespace, id, zone, bundle, image, stdin, stdout, stderr, terminal, eventsAddress,
                newStatus, newPid, newExit, newExitedAt);
    }

    JsonObject toJson() {
        var b = Json.createObjectBuilder().add("namespace", namespace).add("id", id).add("zone", zone)
                .add("bundle", bundle).add("image", image).add("stdin", stdin).add("stdout", stdout)
                .add("stderr", stderr).add("terminal", terminal).add("eventsAddress", eventsAddress)
                .add("status", status).add("pid", pid).add("exitStatus", exitStatus);
        if (exitedAt != null) {
            b.add("exitedAt", exitedAt.toString());
        }
        return b.build();
    }

    static TaskRecord fromJson(JsonObject o) {
        return new TaskRecord(o.getString("namespace"), o.getString("id"), o.getString("zone"),
                o.getString("bundle"), o.getString("image"), o.getString("stdin", ""), o.getString("stdout", ""),
                o.getString("stderr", ""), o.getBoolean("terminal", false), o.getString("eventsAddress", ""),
                o.getString("status"), o.getInt("pid", 0), o.getInt("exitStatus", 0),
                o.containsKey("exitedAt") ? Instant.parse(o.getString("exitedAt")) : null);
    }

    void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        AtomicFiles.writeString(dir.resolve(zone + ".json"), toJson().toString());
    }

    static TaskRecord load(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file); JsonReader r = Json.createReader(in)) {
            return fromJson(r.readObject());
        } catch (JsonException | NullPointerException | ClassCastException | java.time.format.DateTimeParseException e) {
            throw new IOException(file + " is not a task record: " + e.getMessage(), e);
        }
    }
}

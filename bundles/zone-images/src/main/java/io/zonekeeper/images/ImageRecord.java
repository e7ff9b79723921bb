package io.zonekeeper.images;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.image.ImageConfig;
import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * An image as JSON: the {@code image.json} of each image folder, and what {@code image:list --json} and
 * {@code image:info --json} print. Reading a record takes the filesystem image from the folder the record lies in,
 * not from its {@code rootfs} field, so a state directory that moved still works.
 */
public final class ImageRecord {
    static final String FILE = "image.json";
    static final String ROOTFS = "rootfs.squashfs";

    private ImageRecord() {
    }

    public static JsonObject toJson(ImageInfo i) {
        ImageConfig c = i.config();
        return Json.createObjectBuilder()
                .add("id", i.id())
                .add("names", strings(i.names()))
                .add("rootfs", i.rootfs().toString())
                .add("format", i.format())
                .add("rootfsBytes", i.rootfsBytes())
                .add("layerBytes", i.layerBytes())
                .add("layers", strings(i.layers()))
                .add("architecture", i.architecture())
                .add("os", i.os())
                .add("entrypoint", strings(c.entrypoint()))
                .add("cmd", strings(c.cmd()))
                .add("env", strings(c.env()))
                .add("workingDir", c.workingDir())
                .add("user", c.user())
                .add("imported", i.imported().toString())
                .build();
    }

    public static String toJson(List<ImageInfo> images) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        images.forEach(i -> a.add(toJson(i)));
        return a.build().toString();
    }

    static ImageInfo fromJson(JsonObject o, Path dir) throws ImageException {
        try {
            return new ImageInfo(o.getString("id"), list(o.getJsonArray("names")), dir.resolve(ROOTFS),
                    o.getString("format"), ((JsonNumber) o.get("rootfsBytes")).longValue(),
                    ((JsonNumber) o.get("layerBytes")).longValue(), list(o.getJsonArray("layers")),
                    o.getString("architecture"), o.getString("os"),
                    new ImageConfig(list(o.getJsonArray("entrypoint")), list(o.getJsonArray("cmd")),
                            list(o.getJsonArray("env")), o.getString("workingDir"), o.getString("user")),
                    Instant.parse(o.getString("imported")));
        } catch (RuntimeException e) {
            throw new ImageException(dir.resolve(FILE) + " is not a valid image record: " + e);
        }
    }

    private static JsonArray strings(List<String> values) {
        JsonArrayBuilder b = Json.createArrayBuilder();
        values.forEach(b::add);
        return b.build();
    }

    private static List<String> list(JsonArray a) {
        List<String> out = new ArrayList<>();
        for (JsonValue v : a) {
            out.add(((JsonString) v).getString());
        }
        return out;
    }
}

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

/** An image's {@code image.json} in the store: what {@link ImageInfo} says, with the root file named relative. */
final class ImageRecord {
    static final String FILE = "image.json";
    static final String ROOTFS = "rootfs.squashfs";

    private ImageRecord() {
    }

    static JsonObject toJson(ImageInfo i) {
        ImageConfig c = i.config();
        return Json.createObjectBuilder()
                .add("id", i.id())
                .add("names", strings(i.names()))
                .add("format", i.format())
                .add("rootfs", i.rootfs().getFileName().toString())
                .add("rootfsBytes", i.rootfsBytes())
                .add("layerBytes", i.layerBytes())
                .add("layers", strings(i.layers()))
                .add("architecture", i.architecture())
                .add("os", i.os())
                .add("config", Json.createObjectBuilder()
                        .add("Entrypoint", strings(c.entrypoint()))
                        .add("Cmd", strings(c.cmd()))
                        .add("Env", strings(c.env()))
                        .add("WorkingDir", c.workingDir())
                        .add("User", c.user()))
                .add("imported", i.imported().toString())
                .build();
    }

    static ImageInfo fromJson(JsonObject o, Path dir) throws ImageException {
        try {
            JsonObject c = o.getJsonObject("config");
            return new ImageInfo(o.getString("id"), list(o.getJsonArray("names")), dir.resolve(o.getString("rootfs")),
                    o.getString("format"), ((JsonNumber) o.get("rootfsBytes")).longValue(),
                    ((JsonNumber) o.get("layerBytes")).longValue(), list(o.getJsonArray("layers")),
                    o.getString("architecture"), o.getString("os"),
                    new ImageConfig(list(c.getJsonArray("Entrypoint")), list(c.getJsonArray("Cmd")),
                            list(c.getJsonArray("Env")), c.getString("WorkingDir"), c.getString("User")),
                    Instant.parse(o.getString("imported")));
        } catch (RuntimeException e) {
            throw new ImageException(dir.resolve(FILE) + " is not a valid image record: " + e);
        }
    }

    static JsonArray strings(List<String> values) {
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

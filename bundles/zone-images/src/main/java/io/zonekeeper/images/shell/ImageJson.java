package io.zonekeeper.images.shell;

import java.util.List;

import io.zonekeeper.api.image.ImageConfig;
import io.zonekeeper.api.image.ImageInfo;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;

/** The JSON that {@code image:list --json} and {@code image:info --json} print. */
final class ImageJson {
    private ImageJson() {
    }

    static JsonObject of(ImageInfo i) {
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

    static String list(List<ImageInfo> images) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        images.forEach(i -> a.add(of(i)));
        return a.build().toString();
    }

    private static JsonArrayBuilder strings(List<String> values) {
        JsonArrayBuilder b = Json.createArrayBuilder();
        values.forEach(b::add);
        return b;
    }
}

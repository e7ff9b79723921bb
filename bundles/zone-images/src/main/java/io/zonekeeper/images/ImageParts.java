package io.zonekeeper.images;

import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.image.ImageConfig;
import io.zonekeeper.api.image.ImageException;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * What a source holds for one image, every blob checked against its digest: the config and the layers, lowest
 * first, and the names found for it.
 */
record ImageParts(Digest configDigest, JsonObject config, List<Layer> layers, List<String> names) {
    static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";

    /** The config's {@code rootfs.diff_ids}, which must name one digest per layer. */
    static List<Digest> diffIds(JsonObject config, int layers, String where) throws ImageException {
        JsonValue rootfs = config.get("rootfs");
        if (!(rootfs instanceof JsonObject r) || !(r.get("diff_ids") instanceof JsonArray ids)) {
            throw new ImageException(where + ": the image config has no rootfs.diff_ids");
        }
        if (ids.size() != layers) {
            throw new ImageException(where + ": the image config lists " + ids.size()
                    + " layer digests (rootfs.diff_ids) but the manifest has " + layers + " layers");
        }
        List<Digest> out = new ArrayList<>();
        for (JsonValue v : ids) {
            out.add(Digest.parse(v instanceof JsonString s ? s.getString() : v.toString(), where + " rootfs.diff_ids"));
        }
        return out;
    }

    ImageConfig runConfig() {
        JsonObject c = config.get("config") instanceof JsonObject o ? o : JsonValue.EMPTY_JSON_OBJECT;
        return new ImageConfig(strings(c, "Entrypoint"), strings(c, "Cmd"), strings(c, "Env"), string(c, "WorkingDir"),
                string(c, "User"));
    }

    String architecture() {
        return string(config, "architecture");
    }

    String os() {
        return string(config, "os");
    }

    long layerBytes() {
        return layers.stream().mapToLong(Layer::bytes).sum();
    }

    private static List<String> strings(JsonObject o, String key) {
        if (!(o.get(key) instanceof JsonArray a)) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (JsonValue v : a) {
            if (v instanceof JsonString s) {
                out.add(s.getString());
            }
        }
        return out;
    }

    static String string(JsonObject o, String key) {
        return o.get(key) instanceof JsonString s ? s.getString() : "";
    }
}

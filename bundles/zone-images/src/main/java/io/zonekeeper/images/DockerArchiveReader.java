package io.zonekeeper.images;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.zonekeeper.api.image.ImageException;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * Reads one image of a {@code docker save} archive: {@code manifest.json} is a list of
 * {@code {"Config": FILE, "RepoTags": [...], "Layers": [FILE, ...]}}. The config file is named by its sha256
 * ({@code <hex>.json}, or {@code blobs/sha256/<hex>} from Docker 25 on), which is checked; each layer is checked
 * against the config's {@code rootfs.diff_ids}, the digest of its uncompressed tar.
 */
final class DockerArchiveReader {
    private static final Pattern CONFIG_NAME = Pattern.compile("(?:.*/)?(?:sha256:)?([0-9a-f]{64})(?:\\.json)?");
    private final ImageSource source;

    DockerArchiveReader(ImageSource source) {
        this.source = source;
    }

    static boolean isArchive(ImageSource source) {
        return source.has("manifest.json");
    }

    ImageParts read(String tag) throws ImageException {
        JsonArray entries = JsonFiles.read(source.file("manifest.json"), JsonArray.class, "manifest.json");
        JsonObject chosen = choose(entries, tag);
        String configName = ImageParts.string(chosen, "Config");
        Matcher m = CONFIG_NAME.matcher(configName);
        if (!m.matches()) {
            throw new ImageException(source.label() + ": manifest.json names the config '" + configName
                    + "', which is not named by its sha256 digest");
        }
        Digest configDigest = new Digest(m.group(1));
        Path configFile = source.file(configName);
        configDigest.verify(configFile, -1, "config " + configName);
        JsonObject config = JsonFiles.read(configFile, JsonObject.class, "config " + configName);
        if (!(chosen.get("Layers") instanceof JsonArray layerNames)) {
            throw new ImageException(source.label() + ": manifest.json has no Layers list");
        }
        List<Digest> diffIds = ImageParts.diffIds(config, layerNames.size(), source.label());
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < layerNames.size(); i++) {
            String name = layerNames.get(i) instanceof JsonString s ? s.getString() : "";
            Path file;
            try {
                file = source.file(name);
            } catch (ImageException e) {
                throw new ImageException(source.label() + ": layer " + i + " '" + name + "' is missing");
            }
            try {
                Layer.Compression c = Layer.Compression.sniff(file);
                if (c == Layer.Compression.NONE) {
                    diffIds.get(i).verify(file, -1, "layer " + name);
                }
                layers.add(new Layer(file, diffIds.get(i), diffIds.get(i), c, java.nio.file.Files.size(file)));
            } catch (IOException e) {
                throw new ImageException(source.label() + ": layer " + name + " cannot be read: " + e.getMessage(), e);
            }
        }
        List<String> names = tag != null ? List.of(tag) : repoTags(chosen);
        return new ImageParts(configDigest, config, layers, names);
    }

    private JsonObject choose(JsonArray entries, String tag) throws ImageException {
        if (entries.isEmpty()) {
            throw new ImageException(source.label() + ": manifest.json lists no image");
        }
        List<String> all = new ArrayList<>();
        for (JsonValue v : entries) {
            if (!(v instanceof JsonObject o)) {
                throw new ImageException(source.label() + ": manifest.json has an entry that is not an object");
            }
            List<String> tags = repoTags(o);
            all.addAll(tags.isEmpty() ? List.of(ImageParts.string(o, "Config")) : tags);
            if (tag != null && tags.contains(tag)) {
                return o;
            }
        }
        if (entries.size() == 1) {
            return entries.getJsonObject(0);
        }
        if (tag != null) {
            throw new ImageException(source.label() + " has no image tagged '" + tag + "'; it has: "
                    + String.join(", ", all));
        }
        throw new ImageException(source.label() + " holds " + entries.size() + " images (" + String.join(", ", all)
                + "); name one with --tag");
    }

    private static List<String> repoTags(JsonObject entry) {
        List<String> out = new ArrayList<>();
        if (entry.get("RepoTags") instanceof JsonArray a) {
            for (JsonValue v : a) {
                if (v instanceof JsonString s) {
                    out.add(s.getString());
                }
            }
        }
        return out;
    }
}

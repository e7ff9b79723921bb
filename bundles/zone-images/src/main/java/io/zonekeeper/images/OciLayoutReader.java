package io.zonekeeper.images;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.image.ImageException;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * Reads one image of an OCI image layout: {@code oci-layout}, {@code index.json} (possibly through nested indexes),
 * the manifest, the config and the layers, each blob checked against its descriptor's digest and size before use.
 */
final class OciLayoutReader {
    static final String REF_NAME = "org.opencontainers.image.ref.name";
    /** Docker 25 and containerd write the full name here, and only the tag into {@link #REF_NAME}. */
    static final String CONTAINERD_NAME = "io.containerd.image.name";
    static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    private static final int MAX_INDEX_DEPTH = 4;

    private final ImageSource source;

    OciLayoutReader(ImageSource source) {
        this.source = source;
    }

    static boolean isLayout(ImageSource source) {
        return source.has("oci-layout") && source.has("index.json");
    }

    ImageParts read(String tag) throws ImageException {
        JsonObject layout = JsonFiles.read(source.file("oci-layout"), JsonObject.class, "oci-layout");
        if (ImageParts.string(layout, "imageLayoutVersion").isEmpty()) {
            throw new ImageException(source.label() + ": oci-layout has no imageLayoutVersion");
        }
        JsonObject index = JsonFiles.read(source.file("index.json"), JsonObject.class, "index.json");
        JsonObject chosen = choose(manifests(index, "index.json"), tag);
        String name = tag != null ? tag : nameOf(chosen);
        JsonObject manifest = followToManifest(chosen, 0);
        return readManifest(manifest, name.isEmpty() ? List.of() : List.of(name));
    }

    private JsonObject choose(List<JsonObject> manifests, String tag) throws ImageException {
        List<String> names = new ArrayList<>();
        for (JsonObject d : manifests) {
            String n = nameOf(d);
            names.add(n.isEmpty() ? ImageParts.string(d, "digest") : n);
            if (tag != null && (n.equals(tag) || ImageParts.string(annotations(d), REF_NAME).equals(tag))) {
                return d;
            }
        }
        if (manifests.size() == 1) {
            return manifests.get(0);
        }
        if (tag != null) {
            throw new ImageException(source.label() + " has no image named '" + tag + "' (" + REF_NAME + "); it has: "
                    + String.join(", ", names));
        }
        throw new ImageException(source.label() + " holds " + manifests.size() + " images (" + String.join(", ",
                names) + "); name one with --tag");
    }

    private JsonObject followToManifest(JsonObject descriptor, int depth) throws ImageException {
        String type = ImageParts.string(descriptor, "mediaType");
        JsonObject doc = JsonFiles.read(blob(descriptor, "manifest"), JsonObject.class,
                "manifest " + ImageParts.string(descriptor, "digest"));
        if (type.equals(OCI_INDEX) || type.equals(DOCKER_LIST)) {
            if (depth >= MAX_INDEX_DEPTH) {
                throw new ImageException(source.label() + ": indexes nest deeper than " + MAX_INDEX_DEPTH);
            }
            return followToManifest(platform(manifests(doc, "index " + ImageParts.string(descriptor, "digest"))),
                    depth + 1);
        }
        if (!type.equals(OCI_MANIFEST) && !type.equals(DOCKER_MANIFEST)) {
            throw new ImageException(source.label() + ": manifest " + ImageParts.string(descriptor, "digest")
                    + " has the unknown media type '" + type + "'");
        }
        return doc;
    }

    /** In a multi-platform index, the linux/amd64 image: the only kind a zone here runs. */
    private JsonObject platform(List<JsonObject> manifests) throws ImageException {
        if (manifests.size() == 1) {
            return manifests.get(0);
        }
        for (JsonObject d : manifests) {
            if (d.get("platform") instanceof JsonObject p && ImageParts.string(p, "os").equals("linux")
                    && ImageParts.string(p, "architecture").equals("amd64")) {
                return d;
            }
        }
        throw new ImageException(source.label() + ": the index names " + manifests.size()
                + " platforms and none is linux/amd64");
    }

    private ImageParts readManifest(JsonObject manifest, List<String> names) throws ImageException {
        if (!(manifest.get("config") instanceof JsonObject configDesc)) {
            throw new ImageException(source.label() + ": the manifest has no config descriptor");
        }
        String configType = ImageParts.string(configDesc, "mediaType");
        if (!configType.equals(ImageParts.OCI_CONFIG) && !configType.equals(ImageParts.DOCKER_CONFIG)) {
            throw new ImageException(source.label() + ": the config has the unknown media type '" + configType
                    + "' (expected " + ImageParts.OCI_CONFIG + ")");
        }
        Digest configDigest = Digest.parse(ImageParts.string(configDesc, "digest"), "config descriptor");
        JsonObject config = JsonFiles.read(blob(configDesc, "config"), JsonObject.class, "config " + configDigest);
        if (!(manifest.get("layers") instanceof JsonArray layerDescs)) {
            throw new ImageException(source.label() + ": the manifest has no layers array");
        }
        List<Digest> diffIds = ImageParts.diffIds(config, layerDescs.size(), source.label());
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < layerDescs.size(); i++) {
            if (!(layerDescs.get(i) instanceof JsonObject d)) {
                throw new ImageException(source.label() + ": layer " + i + " of the manifest is not a descriptor");
            }
            String type = ImageParts.string(d, "mediaType");
            Layer.Compression c = Layer.Compression.ofMediaType(type);
            if (c == null) {
                throw new ImageException(source.label() + ": layer " + ImageParts.string(d, "digest")
                        + " has the unknown media type '" + type + "'");
            }
            Path file = blob(d, "layer");
            layers.add(new Layer(file, Digest.parse(ImageParts.string(d, "digest"), "layer"), diffIds.get(i), c,
                    size(d)));
        }
        return new ImageParts(configDigest, config, layers, names);
    }

    /** The blob a descriptor names, checked against its digest and size. */
    private Path blob(JsonObject descriptor, String what) throws ImageException {
        Digest d = Digest.parse(ImageParts.string(descriptor, "digest"), what + " descriptor");
        Path file;
        try {
            file = source.file("blobs/sha256/" + d.hex());
        } catch (ImageException e) {
            throw new ImageException(source.label() + ": the " + what + " blob " + d + " is missing (no blobs/sha256/"
                    + d.hex() + ")");
        }
        d.verify(file, size(descriptor), what + " blob");
        return file;
    }

    private static long size(JsonObject descriptor) throws ImageException {
        if (!(descriptor.get("size") instanceof JsonNumber n) || n.longValue() < 0) {
            throw new ImageException("descriptor " + ImageParts.string(descriptor, "digest") + " has no valid size");
        }
        return n.longValue();
    }

    private static List<JsonObject> manifests(JsonObject index, String where) throws ImageException {
        if (!(index.get("manifests") instanceof JsonArray a) || a.isEmpty()) {
            throw new ImageException(where + " lists no manifests");
        }
        List<JsonObject> out = new ArrayList<>();
        for (JsonValue v : a) {
            if (!(v instanceof JsonObject o)) {
                throw new ImageException(where + ": a manifests entry is not a descriptor");
            }
            out.add(o);
        }
        return out;
    }

    private static String nameOf(JsonObject descriptor) {
        String full = ImageParts.string(annotations(descriptor), CONTAINERD_NAME);
        return full.isEmpty() ? ImageParts.string(annotations(descriptor), REF_NAME) : full;
    }

    private static JsonObject annotations(JsonObject descriptor) {
        return descriptor.get("annotations") instanceof JsonObject a ? a : JsonValue.EMPTY_JSON_OBJECT;
    }

}

package io.zonekeeper.images;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;

/**
 * An image a test writes: layers as tars, and a config. It writes itself as an OCI image layout (layers gzipped,
 * as skopeo and buildah write them) or as a {@code docker save} archive (uncompressed layer tars), by the formats'
 * documents: image-spec's image-layout.md, manifest.md and config.md, and Docker's image spec v1.2 for
 * manifest.json.
 */
final class TestImage {
    static final String LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    final List<byte[]> layers = new ArrayList<>();
    String configMediaType = ImageParts.OCI_CONFIG;
    String layerMediaType = LAYER_GZIP;
    List<String> entrypoint = List.of("/bin/app");
    List<String> cmd = List.of("--serve");
    List<String> env = List.of("PATH=/usr/bin:/bin", "MODE=test");
    String workingDir = "/srv";
    String user = "1000:1000";
    /** The config's rootfs.diff_ids; null: the digests of the layers as they are. */
    List<String> diffIds;

    TestImage layer(LayerBuilder l) {
        layers.add(l.tar());
        return this;
    }

    byte[] config() {
        JsonArrayBuilder diffIds = Json.createArrayBuilder();
        if (this.diffIds != null) {
            this.diffIds.forEach(diffIds::add);
        } else {
            for (byte[] l : layers) {
                diffIds.add(sha(l));
            }
        }
        JsonObjectBuilder c = Json.createObjectBuilder().add("Entrypoint", strings(entrypoint)).add("Cmd",
                strings(cmd)).add("Env", strings(env)).add("WorkingDir", workingDir).add("User", user);
        return Json.createObjectBuilder().add("architecture", "amd64").add("os", "linux").add("config", c)
                .add("rootfs", Json.createObjectBuilder().add("type", "layers").add("diff_ids", diffIds)).build()
                .toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Writes an OCI image layout; returns the blobs folder's paths by role, for tests that damage one. */
    OciBlobs writeOci(Path dir, String... refNames) throws IOException {
        Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        byte[] config = config();
        String configDigest = blob(blobs, config);
        JsonArrayBuilder layerDescs = Json.createArrayBuilder();
        List<Path> layerFiles = new ArrayList<>();
        for (byte[] l : layers) {
            byte[] gz = LayerBuilder.gzip(l);
            String d = blob(blobs, gz);
            layerFiles.add(blobs.resolve(d.substring(7)));
            layerDescs.add(descriptor(layerMediaType, d, gz.length));
        }
        byte[] manifest = Json.createObjectBuilder().add("schemaVersion", 2)
                .add("mediaType", OciLayoutReader.OCI_MANIFEST)
                .add("config", descriptor(configMediaType, configDigest, config.length))
                .add("layers", layerDescs).build().toString().getBytes(StandardCharsets.UTF_8);
        String manifestDigest = blob(blobs, manifest);
        JsonArrayBuilder manifests = Json.createArrayBuilder();
        for (String ref : refNames.length == 0 ? new String[] { null } : refNames) {
            JsonObjectBuilder d = descriptor(OciLayoutReader.OCI_MANIFEST, manifestDigest, manifest.length);
            if (ref != null) {
                d.add("annotations", Json.createObjectBuilder().add(OciLayoutReader.REF_NAME, ref));
            }
            manifests.add(d);
        }
        Files.writeString(dir.resolve("index.json"), Json.createObjectBuilder().add("schemaVersion", 2)
                .add("manifests", manifests).build().toString());
        return new OciBlobs(blobs.resolve(configDigest.substring(7)), blobs.resolve(manifestDigest.substring(7)),
                layerFiles);
    }

    record OciBlobs(Path config, Path manifest, List<Path> layers) {
    }

    /** Writes a docker save archive: manifest.json, {@code <hex>.json}, {@code <hex>/layer.tar}. */
    void writeDocker(Path archive, String repoTag) throws IOException {
        byte[] config = config();
        String configHex = sha(config).substring(7);
        JsonArrayBuilder layerNames = Json.createArrayBuilder();
        try (OutputStream out = Files.newOutputStream(archive); TarArchiveOutputStream t = new TarArchiveOutputStream(
                out)) {
            List<String> names = new ArrayList<>();
            for (byte[] l : layers) {
                String name = sha(l).substring(7) + "/layer.tar";
                names.add(name);
                layerNames.add(name);
                put(t, name, l);
            }
            put(t, configHex + ".json", config);
            byte[] manifest = Json.createArrayBuilder().add(Json.createObjectBuilder().add("Config", configHex
                    + ".json").add("RepoTags", Json.createArrayBuilder().add(repoTag)).add("Layers", layerNames))
                    .build().toString().getBytes(StandardCharsets.UTF_8);
            put(t, "manifest.json", manifest);
        }
    }

    /** Tars a folder as it is (an OCI layout as a tar, the way skopeo's oci-archive writes it). */
    static void tarFolder(Path dir, Path archive) throws IOException {
        try (OutputStream out = Files.newOutputStream(archive); TarArchiveOutputStream t = new TarArchiveOutputStream(
                out); Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
                put(t, dir.relativize(p).toString(), Files.readAllBytes(p));
            }
        }
    }

    static void put(TarArchiveOutputStream t, String name, byte[] data) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(data.length);
        t.putArchiveEntry(e);
        t.write(data);
        t.closeArchiveEntry();
    }

    static String blob(Path blobs, byte[] data) throws IOException {
        String d = sha(data);
        Files.write(blobs.resolve(d.substring(7)), data);
        return d;
    }

    static String sha(byte[] data) {
        var md = Digest.sha256();
        md.update(data);
        return Digest.of(md).toString();
    }

    private static JsonObjectBuilder descriptor(String type, String digest, long size) {
        return Json.createObjectBuilder().add("mediaType", type).add("digest", digest).add("size", size);
    }

    private static JsonArrayBuilder strings(List<String> values) {
        JsonArrayBuilder b = Json.createArrayBuilder();
        values.forEach(b::add);
        return b;
    }
}

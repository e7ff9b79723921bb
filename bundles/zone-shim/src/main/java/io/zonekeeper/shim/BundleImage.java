package io.zonekeeper.shim;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.hostio.ProcessRunner;
import io.zonekeeper.shim.proto.MountProto.Mount;
import jakarta.json.Json;
import jakarta.json.JsonObject;

/**
 * Makes a container's root filesystem an image of the image store, so that its zone is an ordinary image zone
 * (bundles/kvm-driver README, "Image zones"): the rootfs (the snapshotter's mounts, mounted on the bundle's
 * {@code rootfs} folder for the time of the copy, or that folder itself) is written as one uncompressed tar layer
 * of an OCI image layout, and a second layer adds {@value #HOLD_DIR} with a static busybox: the zone's own workload
 * is {@link #HOLD_COMMAND}, which keeps the zone up while the container's process runs as an agent exec (so that it
 * gets a terminal, stdin and separate stdout and stderr, which the zone's workload does not have). The image store
 * checks and packs the layout as any import; an identical rootfs is stored once.
 */
final class BundleImage {
    /** Mount types whose source the host can mount and read: a snapshotter's overlay, or a bind of a folder. */
    static final Set<String> SERVED_MOUNT_TYPES = Set.of("overlay", "bind", "rbind");
    static final String HOLD_DIR = "/.zonekeeper";
    static final List<String> HOLD_COMMAND = List.of(HOLD_DIR + "/busybox", "sleep", "2147483647");
    private static final Duration TAR_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration MOUNT_TIMEOUT = Duration.ofSeconds(30);

    private final Supplier<ImageStore> images;
    private final Path busybox;
    private final Path scratch;

    /**
     * @param busybox a static busybox on the host (Debian's busybox-static), copied into every container image
     * @param scratch a folder of the state directory for the layouts being built
     */
    BundleImage(Supplier<ImageStore> images, Path busybox, Path scratch) {
        this.images = images;
        this.busybox = busybox;
        this.scratch = scratch;
    }

    /** Refuses mounts this host side cannot serve, before anything is made. */
    static void checkMounts(List<Mount> mounts, Path bundle) throws ShimException {
        for (Mount m : mounts) {
            if (!SERVED_MOUNT_TYPES.contains(m.getType())) {
                throw new ShimException(ShimException.INVALID, "rootfs mount type '" + m.getType() + "' (source "
                        + m.getSource() + ") cannot be served by zonekeeper; it serves " + String.join(", ",
                                SERVED_MOUNT_TYPES.stream().sorted().toList()));
            }
        }
        if (mounts.size() > 1) {
            throw new ShimException(ShimException.INVALID, mounts.size() + " rootfs mounts; zonekeeper serves one");
        }
        if (mounts.isEmpty() && !Files.isDirectory(bundle.resolve("rootfs"))) {
            throw new ShimException(ShimException.INVALID, "no rootfs mounts and no folder " + bundle.resolve("rootfs"));
        }
    }

    /** Imports the container's root as an image named {@code tag}; returns it. */
    ImageInfo importRoot(Path bundle, List<Mount> mounts, String tag) throws ShimException {
        Path rootfs = bundle.resolve("rootfs");
        Path work;
        try {
            Files.createDirectories(scratch);
            work = Files.createTempDirectory(scratch, "layout-");
        } catch (IOException e) {
            throw new ShimException(ShimException.INTERNAL, "cannot make a folder under " + scratch + ": " + e.getMessage());
        }
        boolean mounted = false;
        try {
            if (!mounts.isEmpty()) {
                Files.createDirectories(rootfs);
                mount(mounts.get(0), rootfs);
                mounted = true;
            }
            Path blobs = Files.createDirectories(work.resolve("blobs/sha256"));
            Path rootTar = work.resolve("root.tar");
            run(List.of("tar", "--numeric-owner", "-C", rootfs.toString(), "-cf",
                    rootTar.toString(), "."), TAR_TIMEOUT);
            if (mounted) {
                unmount(rootfs);
                mounted = false;
            }
            Path holdTar = holdLayer(work);
            String rootDigest = moveToBlob(rootTar, blobs);
            String holdDigest = moveToBlob(holdTar, blobs);
            String layerType = "application/vnd.oci.image.layer.v1.tar";
            JsonObject config = Json.createObjectBuilder().add("architecture", "amd64").add("os", "linux")
                    .add("config", Json.createObjectBuilder())
                    .add("rootfs", Json.createObjectBuilder().add("type", "layers").add("diff_ids",
                            Json.createArrayBuilder().add(rootDigest).add(holdDigest)))
                    .build();
            String[] configBlob = blob(config.toString(), blobs);
            JsonObject manifest = Json.createObjectBuilder().add("schemaVersion", 2)
                    .add("mediaType", "application/vnd.oci.image.manifest.v1+json")
                    .add("config", descriptor("application/vnd.oci.image.config.v1+json", configBlob))
                    .add("layers", Json.createArrayBuilder()
                            .add(Json.createObjectBuilder().add("mediaType", layerType).add("digest", rootDigest)
                                    .add("size", Files.size(blobs.resolve(rootDigest.substring(7)))))
                            .add(Json.createObjectBuilder().add("mediaType", layerType).add("digest", holdDigest)
                                    .add("size", Files.size(blobs.resolve(holdDigest.substring(7))))))
                    .build();
            String[] manifestBlob = blob(manifest.toString(), blobs);
            JsonObject index = Json.createObjectBuilder().add("schemaVersion", 2)
                    .add("manifests", Json.createArrayBuilder().add(Json.createObjectBuilder(
                            descriptor("application/vnd.oci.image.manifest.v1+json", manifestBlob).build())
                            .add("annotations", Json.createObjectBuilder().add("org.opencontainers.image.ref.name",
                                    tag))))
                    .build();
            Files.writeString(work.resolve("index.json"), index.toString());
            Files.writeString(work.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
            return images.get().importImage(work, tag);
        } catch (ImageException e) {
            throw new ShimException(ShimException.INVALID, "the container's rootfs did not import as an image: "
                    + e.getMessage(), e);
        } catch (IOException e) {
            throw new ShimException(ShimException.INTERNAL, "cannot pack the container's rootfs: " + e.getMessage(), e);
        } finally {
            if (mounted) {
                try {
                    unmount(rootfs);
                } catch (IOException e) {
                    System.getLogger("io.zonekeeper.shim").log(System.Logger.Level.WARNING, "cannot unmount "
                            + rootfs + ": " + e.getMessage());
                }
            }
            deleteTree(work);
        }
    }

    /** The layer that holds what the zone's own workload runs: {@value #HOLD_DIR}/busybox, owned by root. */
    private Path holdLayer(Path work) throws IOException {
        Path tree = work.resolve("hold");
        Path dir = Files.createDirectories(tree.resolve(HOLD_DIR.substring(1)));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path bb = dir.resolve("busybox");
        Files.copy(busybox, bb, StandardCopyOption.COPY_ATTRIBUTES);
        Files.setPosixFilePermissions(bb, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path out = work.resolve("hold.tar");
        run(List.of("tar", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "-C", tree.toString(), "-cf",
                out.toString(), HOLD_DIR.substring(1)), TAR_TIMEOUT);
        return out;
    }

    private static void mount(Mount m, Path target) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("mount", "-t", m.getType().equals("overlay") ? "overlay" : "none"));
        List<String> options = new ArrayList<>(m.getOptionsList());
        if (!m.getType().equals("overlay") && !options.contains("bind") && !options.contains("rbind")) {
            options.add(m.getType());
        }
        options.add("ro");
        cmd.addAll(List.of("-o", String.join(",", options), m.getSource(), target.toString()));
        run(cmd, MOUNT_TIMEOUT);
    }

    private static void unmount(Path target) throws IOException {
        run(List.of("umount", target.toString()), MOUNT_TIMEOUT);
    }

    private static void run(List<String> cmd, Duration timeout) throws IOException {
        new ProcessRunner(timeout).run(cmd).requireSuccess();
    }

    private static String moveToBlob(Path file, Path blobs) throws IOException {
        String hex = sha256(file);
        Files.move(file, blobs.resolve(hex), StandardCopyOption.REPLACE_EXISTING);
        return "sha256:" + hex;
    }

    /** Writes {@code text} as a blob; returns {digest, size}. */
    private static String[] blob(String text, Path blobs) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        String hex = HexFormat.of().formatHex(digest().digest(b));
        Files.write(blobs.resolve(hex), b);
        return new String[] { "sha256:" + hex, Integer.toString(b.length) };
    }

    private static jakarta.json.JsonObjectBuilder descriptor(String type, String[] blob) {
        return Json.createObjectBuilder().add("mediaType", type).add("digest", blob[0])
                .add("size", Long.parseLong(blob[1]));
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest md = digest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.getLogger("io.zonekeeper.shim").log(System.Logger.Level.WARNING, "cannot remove " + root + ": "
                    + e.getMessage());
        }
    }
}

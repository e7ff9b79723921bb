package io.zonekeeper.images;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageUsers;
import io.zonekeeper.hostio.AtomicFiles;
import jakarta.json.JsonObject;

/**
 * The image store under {@code <state>/images}: one folder per image, named by the hex of its config digest, holding
 * {@code rootfs.squashfs} and {@code image.json}. An import works in a {@code .staging-*} folder beside them and
 * renames its result into place as its last step, so a refused or crashed import leaves no image behind; leftovers
 * of a crash are swept when the store opens.
 */
public final class Images {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.images");
    private static final Pattern HEX_DIR = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern HEX_PREFIX = Pattern.compile("(sha256:)?[0-9a-f]{12,64}");
    /** A name as tags are written ({@code repo/name:tag}); never a path of this host. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,254}");
    private static final String STAGING = ".staging-";
    private static final String REMOVING = ".removing-";
    static final Duration PACK_TIMEOUT = Duration.ofMinutes(30);

    private final Path dir;
    private final SquashfsPacker packer;

    public Images(Path dir, String tar2sqfs, String compressor, String compressorOptions) {
        this.dir = dir;
        this.packer = new SquashfsPacker(tar2sqfs, compressor, compressorOptions, PACK_TIMEOUT);
    }

    public Path dir() {
        return dir;
    }

    /** Removes what a crashed import or removal left; called when the store opens. */
    public void sweep() {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> p.getFileName().toString().startsWith(
                STAGING) || p.getFileName().toString().startsWith(REMOVING))) {
            for (Path p : ds) {
                LOG.log(Level.INFO, "removing " + p + ", left by an interrupted import or removal");
                deleteTree(p);
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot sweep " + dir + ": " + e.getMessage());
        }
    }

    public ImageInfo importImage(Path source, String tag) throws ImageException {
        if (tag != null && !NAME.matcher(tag).matches()) {
            throw new ImageException("'" + tag + "' is not an image name (letters, digits and . _ : / @ + -, "
                    + "starting with a letter or digit)");
        }
        if (!Files.exists(source)) {
            throw new ImageException(source + " does not exist");
        }
        Path staging = dir.resolve(STAGING + UUID.randomUUID());
        try {
            Files.createDirectories(staging);
            ImageSource src = ImageSource.open(source.toAbsolutePath(), staging.resolve("source"));
            ImageParts parts;
            if (OciLayoutReader.isLayout(src)) {
                parts = new OciLayoutReader(src).read(tag);
            } else if (DockerArchiveReader.isArchive(src)) {
                parts = new DockerArchiveReader(src).read(tag);
            } else {
                throw new ImageException(source + " is neither an OCI image layout (oci-layout, index.json) nor a "
                        + "docker save archive (manifest.json)");
            }
            for (String n : parts.names()) {
                if (!NAME.matcher(n).matches()) {
                    throw new ImageException(source + " names its image '" + n + "', which is not a valid name; "
                            + "give one with --tag");
                }
            }
            synchronized (this) {
                ImageInfo cached = find(parts.configDigest().toString());
                if (cached != null) {
                    return rename(cached, parts.names());
                }
            }
            Path out = Files.createDirectories(staging.resolve("image"));
            LayerMerge merge = new LayerMerge(parts.layers());
            merge.plan();
            Path rootfs = out.resolve(ImageRecord.ROOTFS);
            packer.pack(merge, rootfs);
            try (FileChannel ch = FileChannel.open(rootfs, StandardOpenOption.READ)) {
                ch.force(true);
            }
            Path target = dir.resolve(parts.configDigest().hex());
            ImageInfo info = new ImageInfo(parts.configDigest().toString(), parts.names(),
                    target.resolve(ImageRecord.ROOTFS), SquashfsPacker.FORMAT, Files.size(rootfs), parts.layerBytes(),
                    parts.layers().stream().map(l -> l.digest().toString()).toList(), parts.architecture(), parts.os(),
                    parts.runConfig(), Instant.now());
            AtomicFiles.writeString(out.resolve(ImageRecord.FILE), ImageRecord.toJson(info).toString());
            synchronized (this) {
                ImageInfo raced = find(info.id());
                if (raced != null) {
                    return rename(raced, parts.names());
                }
                takeNames(parts.names(), info.id());
                AtomicFiles.rename(out, target);
            }
            return info;
        } catch (IOException e) {
            throw new ImageException("cannot import " + source + ": " + e.getMessage(), e);
        } finally {
            deleteTree(staging);
        }
    }

    /** Gives {@code names} to an image already stored (the same config digest imported again). */
    private ImageInfo rename(ImageInfo image, List<String> names) throws ImageException {
        Set<String> all = new LinkedHashSet<>(image.names());
        all.addAll(names);
        if (all.size() == image.names().size()) {
            return image;
        }
        takeNames(names, image.id());
        ImageInfo renamed = new ImageInfo(image.id(), List.copyOf(all), image.rootfs(), image.format(),
                image.rootfsBytes(), image.layerBytes(), image.layers(), image.architecture(), image.os(),
                image.config(), image.imported());
        write(renamed);
        return renamed;
    }

    /** A name belongs to one image: the one imported last under it. */
    private void takeNames(Collection<String> names, String newOwner) throws ImageException {
        for (ImageInfo other : list()) {
            if (other.id().equals(newOwner) || other.names().stream().noneMatch(names::contains)) {
                continue;
            }
            write(new ImageInfo(other.id(), other.names().stream().filter(n -> !names.contains(n)).toList(),
                    other.rootfs(), other.format(), other.rootfsBytes(), other.layerBytes(), other.layers(),
                    other.architecture(), other.os(), other.config(), other.imported()));
        }
    }

    private void write(ImageInfo info) throws ImageException {
        Path folder = info.rootfs().getParent();
        try {
            AtomicFiles.writeString(folder.resolve(ImageRecord.FILE), ImageRecord.toJson(info).toString());
        } catch (IOException e) {
            throw new ImageException("cannot write " + folder.resolve(ImageRecord.FILE) + ": " + e.getMessage(), e);
        }
    }

    public List<ImageInfo> list() {
        List<ImageInfo> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> HEX_DIR.matcher(p.getFileName()
                .toString()).matches())) {
            for (Path p : ds) {
                Path record = p.resolve(ImageRecord.FILE);
                if (!Files.isRegularFile(record)) {
                    continue;
                }
                try {
                    out.add(ImageRecord.fromJson(JsonFiles.read(record, JsonObject.class, record.toString()), p));
                } catch (ImageException e) {
                    LOG.log(Level.WARNING, "skipping image " + p.getFileName() + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        out.sort(Comparator.comparing((ImageInfo i) -> i.names().isEmpty() ? "\uffff" : i.names().get(0))
                .thenComparing(ImageInfo::id));
        return out;
    }

    public synchronized ImageInfo resolve(String ref) throws ImageException {
        ImageInfo i = find(ref);
        if (i == null) {
            throw new ImageException("no image '" + ref + "'; image:list shows the images there are");
        }
        return i;
    }

    private ImageInfo find(String ref) throws ImageException {
        List<ImageInfo> all = list();
        for (ImageInfo i : all) {
            if (i.id().equals(ref) || i.names().contains(ref)) {
                return i;
            }
        }
        if (!HEX_PREFIX.matcher(ref).matches()) {
            return null;
        }
        String hex = ref.startsWith("sha256:") ? ref.substring(7) : ref;
        List<ImageInfo> hits = all.stream().filter(i -> i.id().substring(7).startsWith(hex)).toList();
        if (hits.size() > 1) {
            throw new ImageException("'" + ref + "' names " + hits.size() + " images; give more of the id");
        }
        return hits.isEmpty() ? null : hits.get(0);
    }

    /** Removes an image unless one of {@code users} names a zone that uses it. */
    public synchronized void remove(String ref, Collection<ImageUsers> users) throws ImageException {
        ImageInfo i = resolve(ref);
        List<String> zones = new ArrayList<>();
        for (ImageUsers u : users) {
            zones.addAll(u.zonesUsing(i));
        }
        if (!zones.isEmpty()) {
            throw new ImageException("image " + ref + " is used by zone(s) " + String.join(", ", zones.stream()
                    .sorted().distinct().toList()) + "; destroy those zones first");
        }
        Path folder = i.rootfs().getParent();
        Path doomed = dir.resolve(REMOVING + UUID.randomUUID());
        try {
            AtomicFiles.rename(folder, doomed);
        } catch (IOException e) {
            throw new ImageException("cannot remove " + folder + ": " + e.getMessage(), e);
        }
        deleteTree(doomed);
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove " + root + ": " + e.getMessage());
        }
    }
}

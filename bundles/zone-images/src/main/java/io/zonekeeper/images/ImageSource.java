package io.zonekeeper.images;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import io.zonekeeper.api.image.ImageException;

/**
 * The files of what {@code image:import} was given: a directory as it is, or a tar (OCI layout or docker save)
 * copied entry by entry into a staging folder. Only regular files and folders are taken from a tar; its symbolic
 * links (docker save links repeated layers) become aliases that must stay inside the archive. Every name is
 * resolved without following links out of the root.
 */
final class ImageSource {
    private final Path root;
    private final String label;
    private final Map<String, String> aliases;

    private ImageSource(Path root, String label, Map<String, String> aliases) {
        this.root = root;
        this.label = label;
        this.aliases = aliases;
    }

    static ImageSource open(Path source, Path staging) throws ImageException {
        if (Files.isDirectory(source)) {
            return new ImageSource(source, source.toString(), Map.of());
        }
        if (!Files.isRegularFile(source)) {
            throw new ImageException(source + " is neither an image directory nor an archive file");
        }
        return unpack(source, staging);
    }

    private static ImageSource unpack(Path archive, Path into) throws ImageException {
        String where = "archive " + archive;
        Map<String, String> aliases = new HashMap<>();
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(archive), 1 << 16);
                TarArchiveInputStream tar = new TarArchiveInputStream(raw)) {
            Files.createDirectories(into);
            boolean any = false;
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null;) {
                any = true;
                String name = EntryPath.normalize(e.getName(), where);
                if (name.isEmpty()) {
                    continue;
                }
                Path target = into.resolve(name);
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else if (e.isSymbolicLink()) {
                    String t = e.getLinkName().startsWith("/") ? e.getLinkName()
                            : EntryPath.parent(name) + "/" + e.getLinkName();
                    aliases.put(name, EntryPath.normalize(t.startsWith("/") ? t.substring(1) : t,
                            where + " (link " + name + ")"));
                } else if (e.isLink()) {
                    aliases.put(name, EntryPath.normalize(e.getLinkName(), where + " (link " + name + ")"));
                } else if (e.isFile()) {
                    Files.createDirectories(target.getParent());
                    long copied = Files.copy(tar, target);
                    if (copied != e.getSize()) {
                        throw new ImageException(where + " is truncated: entry " + name + " ends after " + copied
                                + " of " + e.getSize() + " bytes");
                    }
                }
            }
            if (!any) {
                throw new ImageException(where + " is not a tar archive (no entry could be read)");
            }
        } catch (IOException e) {
            throw new ImageException(where + " cannot be read as a tar archive (truncated or damaged?): "
                    + e.getMessage(), e);
        }
        return new ImageSource(into, archive.toString(), aliases);
    }

    String label() {
        return label;
    }

    boolean has(String name) {
        try {
            return Files.isRegularFile(file(name));
        } catch (ImageException e) {
            return false;
        }
    }

    /** A file of the source by its name inside it; refused if it is missing, or leads outside through a link. */
    Path file(String name) throws ImageException {
        String n = EntryPath.normalize(name, label);
        for (int hops = 0; aliases.containsKey(n); hops++) {
            if (hops > 16) {
                throw new ImageException(label + ": '" + name + "' is a loop of links");
            }
            n = aliases.get(n);
        }
        Path p = root.resolve(n);
        try {
            Path real = p.toRealPath();
            if (!real.startsWith(root.toRealPath())) {
                throw new ImageException(label + ": '" + name + "' leads outside the image through a link");
            }
            if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                throw new ImageException(label + ": '" + name + "' is not a file");
            }
            return real;
        } catch (IOException e) {
            throw new ImageException(label + " has no file '" + name + "'");
        }
    }
}

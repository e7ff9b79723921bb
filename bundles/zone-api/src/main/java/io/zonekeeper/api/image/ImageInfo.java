package io.zonekeeper.api.image;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * A stored image.
 *
 * @param id the config digest, {@code sha256:} and 64 hex digits: the image's identity and its cache key
 * @param names the names it answers to (tags given or found at import), maybe none
 * @param rootfs the read-only filesystem image that holds the merged layers; a driver attaches it read-only
 * @param format the filesystem of {@code rootfs}, such as {@code squashfs}
 * @param rootfsBytes the size of {@code rootfs}
 * @param layerBytes the layers' size as they were imported (compressed where they were)
 * @param layers the layer digests, lowest first, as the manifest named them
 * @param architecture and {@code os}: the platform the image was built for, as its config says
 * @param config how to run it
 * @param imported when it was imported
 */
public record ImageInfo(String id, List<String> names, Path rootfs, String format, long rootfsBytes,
        long layerBytes, List<String> layers, String architecture, String os, ImageConfig config,
        Instant imported) {
    public ImageInfo {
        names = List.copyOf(names);
        layers = List.copyOf(layers);
    }

    /** The first 12 hex digits of the id, as the tables show it. */
    public String shortId() {
        return id.substring(id.indexOf(':') + 1, id.indexOf(':') + 13);
    }
}

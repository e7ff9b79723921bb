package io.zonekeeper.images;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdUtils;

import io.zonekeeper.api.image.ImageException;

/**
 * One layer blob, already checked against its digest.
 *
 * @param digest the blob's digest as the manifest names it (for docker save, the diff id)
 * @param diffId the digest of the uncompressed tar, from the config's {@code rootfs.diff_ids}, checked while reading
 * @param bytes the blob's size as stored
 */
record Layer(Path file, Digest digest, Digest diffId, Compression compression, long bytes) {
    enum Compression {
        NONE, GZIP, ZSTD;

        /** The compression a layer media type names, or null for a media type that is not a layer's. */
        static Compression ofMediaType(String mediaType) {
            return switch (mediaType) {
                case "application/vnd.oci.image.layer.v1.tar",
                        "application/vnd.oci.image.layer.nondistributable.v1.tar" -> NONE;
                case "application/vnd.oci.image.layer.v1.tar+gzip",
                        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                        "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" -> GZIP;
                case "application/vnd.oci.image.layer.v1.tar+zstd",
                        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" -> ZSTD;
                default -> null;
            };
        }

        /** For docker save, which names no media type: by the first bytes. */
        static Compression sniff(Path file) throws IOException {
            byte[] head = new byte[4];
            int n;
            try (InputStream in = Files.newInputStream(file)) {
                n = in.readNBytes(head, 0, 4);
            }
            if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
                return GZIP;
            }
            if (n == 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5 && (head[2] & 0xff) == 0x2f
                    && (head[3] & 0xff) == 0xfd) {
                return ZSTD;
            }
            return NONE;
        }
    }

    /** The uncompressed tar stream of this layer. */
    InputStream openTar() throws IOException, ImageException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        switch (compression) {
        case GZIP:
            return new GzipCompressorInputStream(raw, true);
        case ZSTD:
            if (!ZstdUtils.isZstdCompressionAvailable()) {
                raw.close();
                throw new ImageException("layer " + digest + " is zstd-compressed, and this appliance has no zstd "
                        + "decoder (zstd-jni); convert the image to gzip layers (skopeo copy "
                        + "--dest-compress-format gzip) and import it again");
            }
            return new ZstdCompressorInputStream(raw);
        default:
            return raw;
        }
    }
}

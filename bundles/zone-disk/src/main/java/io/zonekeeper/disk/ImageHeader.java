package io.zonekeeper.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

import io.zonekeeper.api.DiskSpec;

/**
 * Reads the first bytes of an image to judge it against the format recorded for it, never to learn the format:
 * a raw image that starts with the qcow2 magic was rewritten (by its guest, most likely) and is refused, and a
 * qcow2 image whose header would make QEMU open another file (a backing file, an external data file) is refused.
 * Header layout: QEMU's docs/interop/qcow2.txt (big-endian fields).
 */
final class ImageHeader {
    static final byte[] QCOW2_MAGIC = { 'Q', 'F', 'I', (byte) 0xfb };
    /** Enough for a version 3 header up to its header_length field. */
    static final int READ = 104;
    /** incompatible_features bit 2: the guest data lies in another file, named in a header extension. */
    static final long EXTERNAL_DATA_FILE = 1L << 2;

    private ImageHeader() {
    }

    static byte[] read(Path image) throws IOException {
        try (FileChannel ch = FileChannel.open(image)) {
            ByteBuffer b = ByteBuffer.allocate(READ);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // a short read is retried until the end of the file
            }
            return Arrays.copyOf(b.array(), b.position());
        }
    }

    static boolean hasQcow2Magic(byte[] header) {
        return header.length >= 4 && Arrays.equals(header, 0, 4, QCOW2_MAGIC, 0, 4);
    }

    /**
     * Why an image of the recorded {@code format} with this {@code header} must not be given to a hypervisor, or
     * empty when it may be.
     */
    static Optional<String> refusal(String format, byte[] header) {
        if (DiskSpec.FORMAT_RAW.equals(format)) {
            return hasQcow2Magic(header) ? Optional.of("is recorded as a raw image but now starts with the qcow2 "
                    + "magic (QFI\\xfb): its contents were rewritten, by its guest or on this host, to look like a "
                    + "qcow2 image, so it is refused as tampered") : Optional.empty();
        }
        if (!hasQcow2Magic(header) || header.length < 72) {
            return Optional.of("is recorded as qcow2 but has no qcow2 header");
        }
        ByteBuffer h = ByteBuffer.wrap(header);
        int version = h.getInt(4);
        long backingOffset = h.getLong(8);
        int backingSize = h.getInt(16);
        if (version != 2 && version != 3) {
            return Optional.of("is a qcow2 image of version " + version + ", not 2 or 3");
        }
        if (backingOffset != 0 || backingSize != 0) {
            return Optional.of("is a qcow2 image whose header names a backing file (backing_file_offset "
                    + backingOffset + ", backing_file_size " + Integer.toUnsignedString(backingSize) + "); zones get "
                    + "no backing chains: flatten it with qemu-img convert -O qcow2 first");
        }
        if (version == 3 && (header.length < 80 || (h.getLong(72) & EXTERNAL_DATA_FILE) != 0)) {
            return Optional.of("is a qcow2 image whose data lies in an external data file; zones get only "
                    + "self-contained images: convert it with qemu-img convert -O qcow2 first");
        }
        return Optional.empty();
    }
}

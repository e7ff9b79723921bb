package io.zonekeeper.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * The files of zone images: the scripts a driver packs into them ({@link #bundledText}), and the image files
 * themselves (initramfs, extracted kernels), every one written through {@link #writeAtomically} so that a reader sees
 * either nothing or the whole file.
 */
public final class ImageFiles {

    /** Writes a file's content; it may close the stream it is given. */
    @FunctionalInterface
    public interface Content {
        void write(OutputStream out) throws IOException;
    }

    private ImageFiles() {
    }

    /** A text file of the driver bundle, in {@code owner}'s package: a script to pack into an image. */
    public static String bundledText(Class<?> owner, String name) {
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the driver bundle");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + name + " from the driver bundle", e);
        }
    }

    /**
     * Writes {@code target} through the host-io library (temp file in its folder, fsync, rename, fsync of the
     * folder), so that a reader sees either nothing or the whole image, also after a power loss.
     */
    public static void writeAtomically(Path target, Content content) throws IOException {
        AtomicFiles.write(target, content::write);
    }
}

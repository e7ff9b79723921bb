package io.zonekeeper.hostio;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * Replaces files so that a reader, or the next appliance after a crash or a power loss, sees either the whole old
 * content or the whole new one: never a torn or empty file.
 *
 * <p>The content goes to a temp file in the target's own folder (a rename within one file system is atomic),
 * which is fsynced before the rename, so that the rename can never reach the disk before the data; the folder is
 * fsynced after it, so that the rename itself survives a power loss. A crash between the two leaves a hidden
 * {@code .NAME.*.tmp} beside the target, which readers that list {@code *.json} or the like do not see.
 */
public final class AtomicFiles {
    private static final int BUFFER = 1 << 16;

    /** Writes the new content of a file; it may close the stream it is given. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Replaces {@code target} with {@code text} in UTF-8. */
    public static void writeString(Path target, String text) throws IOException {
        write(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Replaces {@code target} with {@code bytes}. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, null, out -> out.write(bytes));
    }

    /** Replaces {@code target} with what {@code content} writes; the temp file's permissions (rw-------) stay. */
    public static void write(Path target, Content content) throws IOException {
        write(target, null, content);
    }

    /**
     * Replaces {@code target} with what {@code content} writes, with {@code permissions} (null: rw-------), making
     * its folder if need be. When {@code content} throws, the target is left as it was.
     */
    public static void write(Path target, Set<PosixFilePermission> permissions, Content content) throws IOException {
        try {
            writeDurably(target, permissions, content);
        } catch (IOException e) {
            throw DiskFull.when(e, target);
        }
    }

    /**
     * Thrown instead of the file system's bare "No space left on device" when a write finds its disk full: it
     * says which file was not written and that its previous version is intact (the write went to a temp file).
     */
    public static final class DiskFull extends IOException {
        private static final long serialVersionUID = 1L;

        private DiskFull(String message, IOException cause) {
            super(message, cause);
        }

        static IOException when(IOException e, Path target) {
            if (e instanceof DiskFull || !isDiskFull(e)) {
                return e;
            }
            Path dir = target.toAbsolutePath().getParent();
            String free;
            try {
                free = Files.getFileStore(dir).getUsableSpace() + " bytes free";
            } catch (IOException | RuntimeException unknown) {
                free = "free space unknown";
            }
            return new DiskFull("no space left on the state disk (the file system of " + dir + ", " + free + "): "
                    + target.getFileName() + " was not written and its previous version, if any, is kept; free "
                    + "space on that disk and try again", e);
        }

        private static boolean isDiskFull(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                String m = t.getMessage();
                if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
                    return true;
                }
            }
            return false;
        }
    }

    private static void writeDurably(Path target, Set<PosixFilePermission> permissions, Content content)
            throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                    OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), BUFFER)) {
                // Archive and JSON writers close what they are given; the channel must stay open for force().
                content.writeTo(new FilterOutputStream(out) {
                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                    }

                    @Override
                    public void close() throws IOException {
                        out.flush();
                    }
                });
                out.flush();
                ch.force(true);
            }
            if (permissions != null) {
                Files.setPosixFilePermissions(tmp, permissions);
            }
            // Same folder, so ATOMIC_MOVE is a plain rename(2), which replaces the target: no non-atomic fallback.
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Moves a file or folder made under a hidden name into place, durably: fsyncs {@code source} (its data, or a
     * folder's entries), renames it atomically onto {@code target} (replacing a file there, as rename(2) does),
     * and fsyncs the folders of both. Fails, changing nothing, where the two are on different file systems.
     */
    public static void rename(Path source, Path target) throws IOException {
        fsync(source);
        Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        Path from = source.toAbsolutePath().getParent();
        Path to = target.toAbsolutePath().getParent();
        fsyncDirectory(to);
        if (!from.equals(to)) {
            fsyncDirectory(from);
        }
    }

    /** Removes {@code target} if it is there, durably: a record removed does not come back after a power loss. */
    public static boolean delete(Path target) throws IOException {
        boolean removed = Files.deleteIfExists(target);
        if (removed) {
            fsyncDirectory(target.toAbsolutePath().getParent());
        }
        return removed;
    }

    /**
     * Makes the entries of {@code dir} durable: a new file, a rename or a removal there. Quiet where the file
     * system does not let a folder be opened or synced; the rename itself is atomic all the same.
     */
    public static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Not every file system allows it (some network and FUSE ones); nothing more can be done there.
        }
    }

    private static void fsync(Path fileOrFolder) throws IOException {
        if (Files.isDirectory(fileOrFolder)) {
            fsyncDirectory(fileOrFolder);
            return;
        }
        try (FileChannel ch = FileChannel.open(fileOrFolder, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}

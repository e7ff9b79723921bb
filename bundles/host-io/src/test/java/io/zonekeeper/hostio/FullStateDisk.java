package io.zonekeeper.hostio;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.time.Duration;

/**
 * A tiny tmpfs mounted on a test's folder, to be filled up: a real full disk, not a simulated one. Mounting needs
 * root; {@link #mount} fails with the reason elsewhere. Shared with other modules' tests through host-io's test jar.
 */
public final class FullStateDisk implements AutoCloseable {
    private final Path dir;

    private FullStateDisk(Path dir) {
        this.dir = dir;
    }

    /** Mounts a tmpfs of {@code kib} KiB on {@code dir} (an empty folder). */
    public static FullStateDisk mount(Path dir, int kib) throws IOException {
        run("mount", "-t", "tmpfs", "-o", "size=" + kib + "k,mode=0700", "tmpfs", dir.toString());
        return new FullStateDisk(dir);
    }

    public static boolean canMount() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Fills the disk: writes a filler file until the file system refuses another byte. */
    public void fill() throws IOException {
        byte[] block = new byte[4096];
        try (OutputStream out = Files.newOutputStream(dir.resolve("filler"))) {
            while (true) {
                out.write(block);
            }
        } catch (IOException full) {
            if (full.getMessage() == null || !full.getMessage().contains("No space left on device")) {
                throw full;
            }
        }
        // Single bytes too, so that no partial block is left for a small record to slip into.
        try (OutputStream out = Files.newOutputStream(dir.resolve("filler-tail"))) {
            while (true) {
                out.write(0);
                out.flush();
            }
        } catch (IOException full) {
            // full now
        }
    }

    @Override
    public void close() throws IOException {
        run("umount", dir.toString());
    }

    private static void run(String... command) throws IOException {
        new ProcessRunner(Duration.ofSeconds(30)).run(List.of(command)).requireSuccess();
    }
}

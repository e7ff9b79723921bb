package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * The folder the driver and the one channel keeper of this host share, and the only place either of them writes
 * the keeper's files. It outlives both: a driver upgrade or an appliance restart finds the keeper, and the keeper
 * finds its zones, here.
 *
 * <ul>
 * <li>{@code keeper.lock}: held by the running keeper for its whole life, so a second one started by a racing
 * driver ends at once;</li>
 * <li>{@code keeper.pid}, {@code keeper.log}: the running keeper's pid and the log of every keeper;</li>
 * <li>{@code zones/ID.properties}: a zone the driver asks the keeper to serve (its {@link KeeperConfig}); deleting
 * it ends that zone's channels. The keeper deletes it itself once the zone's domain is gone.</li>
 * <li>{@code zones/ID.serving}: written by the keeper once it serves that zone: its pid and the domain.</li>
 * </ul>
 */
public record KeeperFolder(Path dir) {
    private static final String ENTRY = ".properties";
    private static final String SERVING = ".serving";

    /** That a keeper serves a zone, as it wrote it. */
    public record Serving(long pid, int domid) {
    }

    public Path lockFile() {
        return dir.resolve("keeper.lock");
    }

    public Path pidFile() {
        return dir.resolve("keeper.pid");
    }

    public Path log() {
        return dir.resolve("keeper.log");
    }

    public Path zones() {
        return dir.resolve("zones");
    }

    public Path entry(UUID zone) {
        return zones().resolve(zone + ENTRY);
    }

    Path servingFile(UUID zone) {
        return zones().resolve(zone + SERVING);
    }

    /** Asks the keeper to serve the zone as {@code config} says (replacing what it served for that zone before). */
    public void register(KeeperConfig config) throws IOException {
        writeDurably(entry(config.zone()), config.toText());
    }

    /** Asks the keeper to end the zone's channels; a zone it does not know is no error. */
    public void unregister(UUID zone) throws IOException {
        Files.deleteIfExists(entry(zone));
    }

    /** The zone's keeper config as a file of its own elsewhere (the zone's folder keeps one for adoption). */
    public static void save(Path file, KeeperConfig config) throws IOException {
        writeDurably(file, config.toText());
    }

    /** The zones asked for now, by their entries; an entry that cannot be read is left out. */
    List<KeeperConfig> registered() throws IOException {
        List<KeeperConfig> out = new ArrayList<>();
        if (!Files.isDirectory(zones())) {
            return out;
        }
        try (Stream<Path> s = Files.list(zones())) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.getFileName().toString().endsWith(ENTRY)) {
                    try {
                        out.add(KeeperConfig.parse(Files.readString(p, StandardCharsets.UTF_8), p.toString()));
                    } catch (IOException e) {
                        // removed while listed, or being replaced: the next scan sees it
                    }
                }
            }
        }
        return out;
    }

    /**
     * Removes a zone's entry, but only while it still asks for what {@code served} is: a driver that has just
     * registered the zone's next domain keeps its entry.
     */
    void retire(KeeperConfig served) throws IOException {
        Path p = entry(served.zone());
        try {
            if (KeeperConfig.parse(Files.readString(p, StandardCharsets.UTF_8), p.toString()).equals(served)) {
                Files.deleteIfExists(p);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        }
    }

    void markServing(UUID zone, long pid, int domid) throws IOException {
        writeDurably(servingFile(zone), pid + " " + domid + "\n");
    }

    void unmarkServing(UUID zone) throws IOException {
        Files.deleteIfExists(servingFile(zone));
    }

    /** Which keeper serves the zone, and for which domain, as the keeper last wrote it. */
    public Optional<Serving> serving(UUID zone) {
        try {
            String[] f = Files.readString(servingFile(zone)).trim().split(" ");
            return Optional.of(new Serving(Long.parseLong(f[0]), Integer.parseInt(f[1])));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    void writePid(long pid) throws IOException {
        writeDurably(pidFile(), pid + "\n");
    }

    /** The pid the keeper wrote last; it may be gone since. */
    public Optional<Long> pid() {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile()).trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * The one way this package writes a file: a temporary file beside it, forced to disk, renamed over it, and the
     * folder forced too, so that after a crash the file is the old one or the new one, whole.
     */
    /** Temp file, fsync, rename, fsync of the folder (host-io): an entry is whole or absent after a power loss. */
    private static void writeDurably(Path file, String text) throws IOException {
        AtomicFiles.writeString(file, text);
    }
}

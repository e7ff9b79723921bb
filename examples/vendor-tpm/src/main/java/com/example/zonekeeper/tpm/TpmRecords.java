package com.example.zonekeeper.tpm;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;

/**
 * What this backend started for which zone, one small file per zone in {@code <state>/devices/tpm/ZONE-ID.properties},
 * written atomically. It is how a new revision of this bundle (after an upgrade) or a new appliance (after a
 * restart) finds the swtpm it must stop, and how orphans are found.
 */
final class TpmRecords {
    /**
     * One zone's TPM emulator.
     *
     * @param zoneId   the zone's id
     * @param zoneName its name, for messages
     * @param pid      the swtpm process
     * @param socket   its control socket, which QEMU connects to; also how the process is proven to be this one
     * @param stateDir where the TPM keeps its state (in the zone's folder, so that it lives as long as the zone)
     * @param started  when it was started
     */
    record TpmRecord(UUID zoneId, String zoneName, long pid, Path socket, Path stateDir, Instant started) {
    }

    private final Path dir;

    TpmRecords(Path dir) {
        this.dir = dir;
    }

    Path directory() {
        return dir;
    }

    private Path file(UUID zoneId) {
        return dir.resolve(zoneId + ".properties");
    }

    void write(TpmRecord r) throws IOException {
        Files.createDirectories(dir);
        Properties p = new Properties();
        p.setProperty("zone", r.zoneName());
        p.setProperty("pid", Long.toString(r.pid()));
        p.setProperty("socket", r.socket().toString());
        p.setProperty("stateDir", r.stateDir().toString());
        p.setProperty("started", r.started().toString());
        Path tmp = Files.createTempFile(dir, ".record-", ".tmp");
        try {
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                p.store(w, "swtpm of zone " + r.zoneName());
            }
            try {
                Files.move(tmp, file(r.zoneId()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file(r.zoneId()), StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    Optional<TpmRecord> read(UUID zoneId) throws IOException {
        Path f = file(zoneId);
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        try {
            return Optional.of(new TpmRecord(zoneId, p.getProperty("zone", "?"), Long.parseLong(p.getProperty("pid")),
                    Path.of(p.getProperty("socket")), Path.of(p.getProperty("stateDir")),
                    Instant.parse(p.getProperty("started"))));
        } catch (RuntimeException e) {
            throw new IOException("record " + f + " cannot be read: " + e, e);
        }
    }

    void delete(UUID zoneId) throws IOException {
        Files.deleteIfExists(file(zoneId));
    }

    /** The ids of every zone that has a record. */
    List<UUID> zones() throws IOException {
        List<UUID> ids = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return ids;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.properties")) {
            for (Path f : ds) {
                String n = f.getFileName().toString();
                try {
                    ids.add(UUID.fromString(n.substring(0, n.length() - ".properties".length())));
                } catch (IllegalArgumentException notOurs) {
                    // a file someone else put here; not a record
                }
            }
        }
        return ids;
    }

    Path fileOf(UUID zoneId) {
        return file(zoneId);
    }
}

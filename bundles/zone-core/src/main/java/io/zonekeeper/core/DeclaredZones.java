package io.zonekeeper.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.json.SpecJson;

/**
 * Zones the appliance's firmware declares ({@code etc/zones/*.json}): each is created, wanted running, when it is
 * not stored yet. A stored zone keeps its spec; a file that differs is only logged, and a bad file is refused.
 */
final class DeclaredZones {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private final Path directory;
    private final ZoneTable table;

    /** {@code directory} may be null or missing: then nothing is declared. */
    DeclaredZones(Path directory, ZoneTable table) {
        this.directory = directory;
        this.table = table;
    }

    void load() {
        if (directory == null || !Files.isDirectory(directory)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*.json")) {
            for (Path f : files) {
                try {
                    ZoneSpec spec = SpecJson.parse(Files.readString(f, StandardCharsets.UTF_8));
                    Zone existing = table.find(spec.name());
                    if (existing == null) {
                        table.create(spec, true);
                        LOG.log(Level.INFO, "declared zone " + spec.name() + " created from " + f);
                    } else if (!existing.record().spec().equals(spec)) {
                        LOG.log(Level.WARNING, "declared zone " + spec.name() + " in " + f + " differs from the "
                                + "stored one; the stored spec is kept (destroy the zone to take the new one)");
                    }
                } catch (InvalidSpecException e) {
                    LOG.log(Level.ERROR, "declared zone file " + f + " is refused: " + e.getMessage());
                } catch (IOException | ZoneException e) {
                    LOG.log(Level.ERROR, "declared zone file " + f + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.log(Level.ERROR, "cannot read declared zones in " + directory + ": " + e.getMessage());
        }
    }
}

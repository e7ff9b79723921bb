package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;

/**
 * Zones the appliance's firmware declares ({@code etc/zones/*.json}): each is created, wanted running, when it is
 * not stored yet. A stored zone keeps its spec; a file that differs is only logged. A file that cannot be used is
 * refused on its own ({@link DeclaredZoneFiles}): named with its reason in the log and by {@code zone:list}, while
 * the other declared zones still load.
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

    /** Creates the declared zones that are not stored yet; returns the files that were refused. */
    List<DeclaredZoneFiles.Refused> load() {
        DeclaredZoneFiles.Found found = DeclaredZoneFiles.read(directory);
        List<DeclaredZoneFiles.Refused> refused = new ArrayList<>(found.refused());
        for (DeclaredZoneFiles.Declared d : found.declared()) {
            ZoneSpec spec = d.spec();
            Zone existing = table.find(spec.name());
            if (existing == null) {
                try {
                    table.create(spec, true);
                    LOG.log(Level.INFO, "declared zone " + spec.name() + " created from " + d.file());
                } catch (ZoneException e) {
                    refused.add(new DeclaredZoneFiles.Refused(d.file(), e.getMessage()));
                }
            } else if (!existing.record().spec().equals(spec)) {
                LOG.log(Level.WARNING, "declared zone " + spec.name() + " in " + d.file() + " differs from the "
                        + "stored one; the stored spec is kept (destroy the zone to take the new one)");
            }
        }
        for (DeclaredZoneFiles.Refused r : refused) {
            LOG.log(Level.ERROR, "declared zone file " + r.file() + " is refused, the other declared zones load: "
                    + r.problem());
        }
        return refused;
    }
}

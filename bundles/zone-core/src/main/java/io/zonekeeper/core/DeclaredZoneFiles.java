package io.zonekeeper.core;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.json.SpecJson;

/**
 * The declared zones of {@code etc/zones/*.json}, read one file at a time so that a broken file is set aside with
 * its reason and the others still load. The broken file stays where it is: {@code etc/} is the operator's (and may
 * be read-only), so it is reported in the log and by {@code zone:list} on every start until it is fixed or removed.
 */
public final class DeclaredZoneFiles {

    /** A declared zone file that could not be used, and why. */
    public record Refused(Path file, String problem) {
    }

    /** A declared zone file and the spec it holds. */
    record Declared(Path file, ZoneSpec spec) {
    }

    /** What {@link #read} found: the usable specs, in file name order, and the refused files. */
    record Found(List<Declared> declared, List<Refused> refused) {
    }

    private DeclaredZoneFiles() {
    }

    /** Reads every {@code *.json} in {@code dir}; a missing folder declares nothing. */
    static Found read(Path dir) {
        List<Declared> declared = new ArrayList<>();
        List<Refused> refused = new ArrayList<>();
        if (dir == null || !Files.isDirectory(dir)) {
            return new Found(declared, refused);
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> listing = Files.newDirectoryStream(dir, "*.json")) {
            listing.forEach(files::add);
        } catch (IOException e) {
            refused.add(new Refused(dir, "cannot list the folder: " + e.getMessage()));
            return new Found(declared, refused);
        }
        files.sort(null);
        for (Path f : files) {
            try {
                declared.add(new Declared(f, SpecJson.parseFile(f)));
            } catch (InvalidSpecException e) {
                refused.add(new Refused(f, e.getMessage()));
            } catch (IOException e) {
                refused.add(new Refused(f, "cannot be read: " + e.getMessage()));
            } catch (RuntimeException | StackOverflowError e) {
                // The reader's limits should make this unreachable; if a file still finds a way, it costs that
                // file, not zone-core and every other declared zone with it.
                refused.add(new Refused(f, "cannot be read: " + e));
            }
        }
        return new Found(declared, refused);
    }
}

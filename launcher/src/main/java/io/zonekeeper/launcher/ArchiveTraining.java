package io.zonekeeper.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Whether this run may teach the distribution's AppCDS archive. When {@code bin/zonekeeper} finds no fitting archive,
 * the JVM writes one as it exits ({@code -XX:ArchiveClassesAtExit}), holding the classes this run loaded. A run that
 * stopped early (a usage error, a state folder another appliance holds, a bundle that did not start) loaded few of
 * them, and its archive, once in place, would count as fresh and serve every later start with almost nothing. So the
 * script writes the archive's key as {@code KEY.partial} and names it here ({@code -Dzonekeeper.cds.pending=KEY.partial});
 * only a run that started every bundle renames it to {@code KEY}, and the script puts in place only an archive that
 * has its {@code KEY}. Failing to rename is silent: the run then simply teaches nothing.
 */
final class ArchiveTraining {

    static final String PROPERTY = "zonekeeper.cds.pending";
    static final String PARTIAL = ".partial";

    private ArchiveTraining() {
    }

    /** Called once every bundle started: this run's archive may be put in place when it exits. */
    static void startedFully() {
        String pending = System.getProperty(PROPERTY);
        if (pending == null || !pending.endsWith(PARTIAL)) {
            return;
        }
        Path partial = Path.of(pending);
        Path key = partial.resolveSibling(partial.getFileName().toString()
                .substring(0, partial.getFileName().toString().length() - PARTIAL.length()));
        try {
            Files.move(partial, key, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            // read-only lib/, or the file removed: no archive from this run
        }
    }
}

package io.zonekeeper.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where a start spends its time: with {@code -Dzonekeeper.start.trace=FILE}, each step of the start appends one
 * line {@code EPOCH_MILLIS CPU_MILLIS STEP} to FILE (CPU: the process's user and system time so far, which
 * a loaded machine disturbs less than the wall clock) (measure-start prints the breakdown from it). Without the property it
 * does nothing. A trace that cannot be written is given up silently: it must never stop the appliance.
 */
final class StartTrace {

    static final String PROPERTY = "zonekeeper.start.trace";

    private static final Path FILE = file();

    private StartTrace() {
    }

    private static Path file() {
        String name = System.getProperty(PROPERTY);
        return name == null || name.isBlank() ? null : Path.of(name);
    }

    static boolean on() {
        return FILE != null;
    }

    static void mark(String step) {
        if (FILE == null) {
            return;
        }
        try {
            long cpu = ProcessHandle.current().info().totalCpuDuration().map(d -> d.toMillis()).orElse(-1L);
            Files.writeString(FILE, System.currentTimeMillis() + " " + cpu + " " + step + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException | RuntimeException e) {
            // a measurement aid only
        }
    }
}

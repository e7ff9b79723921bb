package io.zonekeeper.spi;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * What a driver writes down about a guest it started: enough for a later instance of the driver (after an
 * upgrade, or in a new JVM) to find the guest again and prove it is this zone. zone-core stores it durably in the
 * zone's folder and gives it back through {@link ZoneContext#runtime()}.
 *
 * @param driver     the driver type that wrote it
 * @param properties driver-defined keys: a process id, socket paths, a domain id
 */
public record RuntimeRecord(String driver, Map<String, String> properties) {
    public static final String PID = "pid";

    /**
     * The file the guest's console is logged to, absolute, so that zone-core can show the log while the driver is
     * away (an upgrade, a crash). A driver with {@link Feature#CONSOLE} writes it. Since spi 1.3.
     */
    public static final String CONSOLE_LOG = "consoleLog";

    public RuntimeRecord {
        properties = Map.copyOf(properties);
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(properties.get(key));
    }

    /** The {@link #CONSOLE_LOG} the driver recorded, if it recorded one. Since spi 1.3. */
    public Optional<Path> consoleLog() {
        return get(CONSOLE_LOG).map(Path::of);
    }
}

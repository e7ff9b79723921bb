package io.zonekeeper.api;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Creates and runs zones. Every method either does all it says or changes nothing and throws a
 * {@link ZoneException} whose message says what was wrong.
 */
@ProviderType
public interface ZoneManager {

    /** Validates and stores a zone in state {@link ZoneState#DEFINED}; nothing is started. */
    ZoneInfo create(ZoneSpec spec) throws ZoneException;

    /** Starts a defined, stopped or crashed zone on a driver that can run it, and returns once it runs. */
    ZoneInfo start(String name) throws ZoneException;

    /** Asks the guest to power off, waits up to {@code grace}, then ends it by force. */
    ZoneInfo stop(String name, Duration grace) throws ZoneException;

    /** Ends the guest by force if it runs, then removes the zone and everything stored for it. */
    void destroy(String name) throws ZoneException;

    Optional<ZoneInfo> get(String name);

    List<ZoneInfo> list();

    /** Waits until the zone is in one of {@code states}; throws when the timeout passes first. */
    ZoneInfo await(String name, Set<ZoneState> states, Duration timeout) throws ZoneException;

    /** The file that holds the zone's console output, which may not exist yet. */
    Path consoleLog(String name) throws ZoneException;
}

package io.zonekeeper.spi;

import java.nio.channels.ByteChannel;
import java.nio.file.Path;

import org.osgi.annotation.versioning.ConsumerType;

/** Optional ability: a guest console that can be read as a log and attached to interactively. */
@ConsumerType
public interface ConsoleAccess extends HypervisorDriver {
    /** The file the guest's console output goes to; it outlives the guest. */
    Path consoleLog(ZoneContext zone);

    /** A two-way connection to the running guest's console; closing it detaches and leaves the guest running. */
    ByteChannel attachConsole(ZoneContext zone) throws DriverException;
}

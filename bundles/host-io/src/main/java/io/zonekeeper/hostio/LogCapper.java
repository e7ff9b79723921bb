package io.zonekeeper.hostio;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Keeps the console logs (and image zones' workload logs) of the zones a driver watches under their cap, checked every few seconds on a daemon thread
 * of its own. The hypervisor's side writes each log itself ({@code O_APPEND}: QEMU's chardev {@code logfile},
 * xenconsoled's {@code guest-NAME.log}), so the logs are copy-truncated from outside ({@link CappedLog}): draining
 * the console instead would take the one client a console serves from zone:console, and would stall the guest's
 * console whenever the appliance is down. While no driver watches a zone (the appliance is down, the zone is not
 * adopted yet) its log grows unchecked; the next check after adoption, or the next start ({@link #capNow}), brings it
 * back to the cap, and {@code NAME.1} never holds more than the cap. Both drivers use this one class.
 */
public final class LogCapper implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(LogCapper.class.getName());

    /** One log of a zone: its console log or its workload log. */
    public record ZoneLog(String zone, Path path) {
    }

    private final ScheduledExecutorService timer;

    /**
     * Checks every {@code periodSeconds} the logs {@code watched} gives, against {@code cap} bytes (asked again at
     * every check, so a new configuration applies at once), on a daemon thread named {@code threadName}.
     */
    public LogCapper(String threadName, Supplier<? extends Collection<ZoneLog>> watched, LongSupplier cap,
            long periodSeconds) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            long bytes = cap.getAsLong();
            for (ZoneLog l : watched.get()) {
                capNow(l.path(), bytes, l.zone());
            }
        }, periodSeconds, periodSeconds, TimeUnit.SECONDS);
    }

    /** Rotates one log now if it is over {@code cap}; a failure is logged, never thrown. */
    public static void capNow(Path log, long cap, String zone) {
        try {
            CappedLog.rotate(log, cap);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "could not rotate " + log.getFileName() + " of zone " + zone + ": "
                    + e.getMessage());
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}

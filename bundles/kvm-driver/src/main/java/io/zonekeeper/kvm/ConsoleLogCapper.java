package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.zonekeeper.hostio.CappedLog;

/**
 * Keeps each watched zone's console log under its cap. QEMU writes the log itself (the chardev's {@code logfile},
 * opened {@code O_APPEND}), so the driver copy-truncates it from outside ({@link CappedLog}): draining the console
 * socket instead would take the one client that socket serves from zone:console, and would stall the guest's serial
 * port whenever the appliance is down. While no driver watches a zone (the appliance is down, the zone is not adopted
 * yet) its log grows unchecked; the next check after adoption, or the next start, brings it back to the cap, and
 * console.log.1 never holds more than the cap.
 */
final class ConsoleLogCapper implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.kvm");

    private final ScheduledExecutorService timer;

    /** Checks every {@code periodSeconds} the logs of the zones {@code watched} gives, against {@code cap}. */
    ConsoleLogCapper(Supplier<Collection<ZoneWatch>> watched, LongSupplier cap, long periodSeconds) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "kvm-console-log-cap");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            long bytes = cap.getAsLong();
            for (ZoneWatch w : watched.get()) {
                capNow(w.files.consoleLog(), bytes, w.zone.name());
            }
        }, periodSeconds, periodSeconds, TimeUnit.SECONDS);
    }

    /** Rotates one log now if it is over {@code cap}; a failure is logged, never thrown. */
    static void capNow(Path log, long cap, String zone) {
        try {
            CappedLog.rotate(log, cap);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "could not rotate the console log of zone " + zone + ": "
                    + e.getMessage());
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}

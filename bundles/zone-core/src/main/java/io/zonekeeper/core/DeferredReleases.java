package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import io.zonekeeper.hostio.GuestProcessScan;

/**
 * Gives a zone's taps, leases, disk locks and devices back only once no process with the zone's uuid lives. The
 * records can be wrong (an appliance killed between a QEMU's launch and its record calls that zone crashed), the
 * process table cannot: a QEMU that runs holds what it was given, and giving that to another zone would hand one
 * disk to two writers. A release that must wait is retried until the process is gone.
 */
final class DeferredReleases {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private record Pending(String zone, BooleanSupplier stillEnded, Runnable release) {
    }

    private final GuestProcessScan scan;
    private final Duration recheck;
    private final Map<UUID, Pending> pending = new ConcurrentHashMap<>();
    private ScheduledExecutorService timer;

    DeferredReleases(GuestProcessScan scan, Duration recheck) {
        this.scan = scan;
        this.recheck = recheck;
    }

    /**
     * Runs {@code release} now when no process carries {@code id}; otherwise later, once none does, provided
     * {@code stillEnded} then holds (a zone started again meanwhile keeps what its new start prepared).
     *
     * @return true when it ran now
     */
    boolean releaseWhenGone(UUID id, String zone, BooleanSupplier stillEnded, Runnable release) {
        List<Long> alive = scan.pidsOf(id);
        if (alive.isEmpty()) {
            pending.remove(id);
            release.run();
            return true;
        }
        LOG.log(Level.WARNING, "zone " + zone + " ended, but process " + alive + " with its uuid still runs: its"
                + " taps, leases, disk locks and devices are kept until that process is gone");
        pending.put(id, new Pending(zone, stillEnded, release));
        ensureTimer();
        return false;
    }

    /** The zones whose resources wait for a process to end, with the live processes' uuids: both hold resources. */
    Set<UUID> holding() {
        Set<UUID> ids = new HashSet<>(pending.keySet());
        ids.addAll(scan.all().values());
        return ids;
    }

    /** The live pids with {@code id}: a zone that has one holds its resources whatever its record says. */
    List<Long> pidsOf(UUID id) {
        return scan.pidsOf(id);
    }

    private synchronized void ensureTimer() {
        if (timer == null) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> ZoneTable.daemon(r, "zonekeeper-releases"));
            timer.scheduleWithFixedDelay(this::recheck, recheck.toMillis(), recheck.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
    }

    private void recheck() {
        for (Map.Entry<UUID, Pending> e : pending.entrySet()) {
            if (!scan.pidsOf(e.getKey()).isEmpty()) {
                continue;
            }
            Pending p = e.getValue();
            if (pending.remove(e.getKey(), p)) {
                if (p.stillEnded().getAsBoolean()) {
                    LOG.log(Level.INFO, "the last process of zone " + p.zone() + " is gone: its resources are given"
                            + " back now");
                    try {
                        p.release().run();
                    } catch (RuntimeException ex) {
                        LOG.log(Level.WARNING, "releasing the resources of zone " + p.zone() + ": " + ex);
                    }
                }
            }
        }
    }

    synchronized void close() {
        if (timer != null) {
            timer.shutdownNow();
            timer = null;
        }
    }
}

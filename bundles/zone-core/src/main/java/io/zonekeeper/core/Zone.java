package io.zonekeeper.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;

import io.zonekeeper.api.ZoneEvent;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.store.ZoneRecord;
import io.zonekeeper.hostio.GuestText;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/**
 * One zone in memory: its stored record, the driver binding that holds its guest, and what its resources
 * prepared for the current start.
 *
 * <p>Locking: {@link #operation} is held for a whole start/stop/destroy/adoption, so that a driver never sees two
 * calls for one zone at once; the zone's own monitor is held only to change its record, so that a driver's
 * {@link ZoneContext#report} from a watcher thread never waits for a long operation.
 */
final class Zone {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");
    /** The longest reason a driver's report stores; a crash reason quotes a few console lines, not a log. */
    static final int REASON_LIMIT = 4096;

    final ReentrantLock operation = new ReentrantLock();
    private final ZoneTable table;
    private ZoneRecord record;
    /** Held (before the monitor) while the record is written, so that this zone's writes reach the store in order. */
    private final Object storeWrites = new Object();
    /** Whether {@link #record} changed in memory since it was last stored ({@link #noteUnsaved}). */
    private boolean unsaved;
    /** The driver binding that adopted or started this zone's guest, or null while none has. */
    private DriverBinding attachedTo;
    /** What the resource providers prepared for the current start. */
    private volatile PreparedResources prepared = PreparedResources.NONE;
    /**
     * Open while the end of a guest gives its resources back. The record says STOPPED or CRASHED before that is
     * done, so a start (or a waiter) that saw the end waits for this first: otherwise a release running late on
     * the watcher's thread could take back what the next start had just prepared.
     */
    private volatile CountDownLatch ending = new CountDownLatch(0);

    Zone(ZoneTable table, ZoneRecord record) {
        this.table = table;
        this.record = record;
    }

    synchronized ZoneRecord record() {
        return record;
    }

    synchronized DriverBinding attachedTo() {
        return attachedTo;
    }

    synchronized void attach(DriverBinding binding) {
        attachedTo = binding;
    }

    /** Forgets the binding if it is the one that holds this zone: a driver that left keeps nothing. */
    synchronized void detachFrom(DriverBinding gone) {
        if (attachedTo == gone) {
            attachedTo = null;
        }
    }

    PreparedResources prepared() {
        return prepared;
    }

    void prepared(PreparedResources resources) {
        prepared = resources;
    }

    String name() {
        return record().spec().name();
    }

    /** Changes the record durably, then tells listeners. */
    void change(UnaryOperator<ZoneRecord> how) {
        ZoneRecord before;
        ZoneRecord after;
        CountDownLatch ends = null;
        synchronized (storeWrites) {
            synchronized (this) {
                before = record;
                after = how.apply(before);
                if (after.equals(before)) {
                    return;
                }
                try {
                    table.store().update(after);
                } catch (IOException e) {
                    LOG.log(Level.ERROR, "could not store zone " + after.spec().name() + ": " + e.getMessage());
                }
                unsaved = false;
                if (before.state().isActive() && !after.state().isActive()) {
                    ends = new CountDownLatch(1);
                    ending = ends;
                }
                record = after;
                notifyAll();
            }
        }
        if (ends != null) {
            // Stopped, crashed, or a start undone: whatever ends a guest gives back its taps, leases and locks.
            try {
                table.guestEnded(this);
            } finally {
                ends.countDown();
            }
        }
        if (before.state() != after.state()) {
            table.publish(new ZoneEvent(after.spec().name(), before.state(), after.state(), after.reason(),
                    Instant.now()));
        }
    }

    /**
     * Changes only the reason (and its time) of the record, in memory: the store gets it at the next {@link #change}
     * or {@link #save}. For an adoption during a driver upgrade, whose record write need not hold the control plane
     * up: what it changes is redone by proof after a restart anyway. Returns false (and changes nothing) when
     * {@code state} is not the zone's state: a change of state is always stored first.
     */
    synchronized boolean noteUnsaved(ZoneState state, String reason) {
        if (record.state() != state) {
            return false;
        }
        record = record.withState(state, reason);
        unsaved = true;
        notifyAll();
        return true;
    }

    /**
     * Stores the record if {@link #noteUnsaved} changed it since it was last stored. The write runs outside the
     * zone's monitor, so that readers ({@code zone:list}) do not wait for the disk; writes of this zone stay in order.
     */
    void save() {
        synchronized (storeWrites) {
            ZoneRecord r;
            synchronized (this) {
                if (!unsaved) {
                    return;
                }
                r = record;
            }
            try {
                table.store().update(r);
            } catch (IOException e) {
                LOG.log(Level.ERROR, "could not store zone " + r.spec().name() + ": " + e.getMessage());
                return;
            }
            synchronized (this) {
                if (record == r) {
                    unsaved = false;
                }
            }
        }
    }

    /** Whether the record in memory is newer than the stored one (for tests). */
    synchronized boolean unsaved() {
        return unsaved;
    }

    void setState(ZoneState state, String reason) {
        change(r -> r.withState(state, reason));
    }

    /** Waits until the resources of a guest that ended have been given back (or their release deferred). */
    void awaitEnded() {
        try {
            ending.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits until the zone is in one of {@code states}; fails when it is destroyed or the time is up. A state
     * that ends the guest is seen only once its resources are back.
     */
    void awaitState(Set<ZoneState> states, Duration timeout) throws ZoneException {
        String name = name();
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (!states.contains(record.state())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new ZoneException("zone " + name + " is still " + record.state() + " after "
                            + timeout.toSeconds() + " s (waited for " + states + ")");
                }
                if (table.find(name) == null) {
                    throw new ZoneException("zone " + name + " was destroyed while waiting");
                }
                try {
                    wait(Math.max(1, Math.min(500, TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ZoneException("interrupted while waiting for zone " + name);
                }
            }
        }
        awaitEnded();
    }

    /** What {@code binding}'s driver sees of this zone; null for a look without a driver. */
    ZoneContext context(DriverBinding binding) {
        return new Context(binding);
    }

    /** What a driver sees of a zone; reports from a driver that no longer holds the zone are ignored. */
    private final class Context implements ZoneContext {
        private final DriverBinding binding;

        Context(DriverBinding binding) {
            this.binding = binding;
        }

        @Override
        public UUID id() {
            return record().id();
        }

        @Override
        public String name() {
            return Zone.this.name();
        }

        @Override
        public ZoneSpec spec() {
            return record().spec();
        }

        @Override
        public Path directory() {
            return table.store().zoneDirectory(name());
        }

        @Override
        public Optional<RuntimeRecord> runtime() {
            try {
                return table.store().loadRuntime(name());
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "runtime record of zone " + name() + " is unreadable: " + e.getMessage());
                return Optional.empty();
            }
        }

        @Override
        public void saveRuntime(RuntimeRecord runtime) {
            try {
                table.store().saveRuntime(name(), runtime);
            } catch (IOException e) {
                throw new IllegalStateException("could not store the runtime record of zone " + name()
                        + ": " + e.getMessage(), e);
            }
        }

        @Override
        public void report(ZoneState state, String reason) {
            DriverBinding holder = attachedTo();
            if (holder != null && holder != binding) {
                return;
            }
            ZoneState current = record().state();
            if (current == state || (!current.isActive() && state.isActive())) {
                // A stale "running" from a watcher after the zone stopped must not resurrect it.
                return;
            }
            // A driver's reason may quote the guest's console: stored and shown, it must be short and inert.
            String why = GuestText.escape(reason.length() <= REASON_LIMIT ? reason
                    : reason.substring(0, REASON_LIMIT) + "... (" + (reason.length() - REASON_LIMIT) + " more chars)");
            LOG.log(Level.INFO, "zone " + name() + " is " + state + (why.isEmpty() ? "" : ": " + why));
            setState(state, why);
        }

        @Override
        public PreparedResources resources() {
            return prepared;
        }
    }
}

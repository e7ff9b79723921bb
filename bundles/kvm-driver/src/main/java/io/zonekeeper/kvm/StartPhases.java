package io.zonekeeper.kvm;

import java.util.ArrayList;
import java.util.List;

/**
 * Where one start's time went, on the wall clock, in the order the steps ran: the check for a QEMU already running
 * with the zone's uuid, the plan, the zone's files, disks and jail, the durable starting record, QEMU's launch to
 * its pidfile and QMP socket, and the QMP handshake. The runtime record keeps it ({@link KvmDriver#R_START_PHASES}),
 * so an operator ({@code zone:info}) and the start-overhead benchmark can see it. Not thread-safe: one start's.
 */
final class StartPhases {
    private final List<String> done = new ArrayList<>();
    private long since = System.nanoTime();

    /** Ends the step called {@code name} now; the next one starts. */
    void mark(String name) {
        long now = System.nanoTime();
        done.add(name + " " + (now - since) / 1_000_000);
        since = now;
    }

    /** For instance {@code "scan 4, plan 6, jail 9, record 5, launch 47, qmp 80"} (milliseconds). */
    @Override
    public String toString() {
        return String.join(", ", done);
    }
}

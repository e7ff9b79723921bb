package io.zonekeeper.hostio;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A deterministic kill -9 for the fault-injection harness: with the system property
 * {@code zonekeeper.crashPoint=NAME:N} the JVM halts (no shutdown hooks, no finally blocks, as SIGKILL would) the
 * N-th time the point NAME is reached. Off, and a single property read per call, unless the property is set.
 * Each bundle embeds its own copy, so N counts the passes through points of that bundle.
 */
public final class CrashPoint {
    /** The exit status of a halt at a crash point, as a SIGKILL'd JVM's shell would report it. */
    public static final int STATUS = 137;
    private static final AtomicInteger PASSES = new AtomicInteger();

    private CrashPoint() {
    }

    /** Halts here when this is the point, and the pass, that {@code zonekeeper.crashPoint} names. */
    public static void reach(String name) {
        String wanted = System.getProperty("zonekeeper.crashPoint");
        if (wanted == null) {
            return;
        }
        int colon = wanted.lastIndexOf(':');
        String point = colon < 0 ? wanted : wanted.substring(0, colon);
        if (!point.equals(name)) {
            return;
        }
        int n;
        try {
            n = colon < 0 ? 1 : Integer.parseInt(wanted.substring(colon + 1).trim());
        } catch (NumberFormatException e) {
            n = 1;
        }
        if (PASSES.incrementAndGet() == n) {
            System.err.println("zonekeeper: crash point " + name + " pass " + n + ": halting");
            System.err.flush();
            Runtime.getRuntime().halt(STATUS);
        }
    }
}

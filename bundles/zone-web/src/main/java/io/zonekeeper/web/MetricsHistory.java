package io.zonekeeper.web;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The last minutes of CPU and memory of each zone, for the graphs: at most {@link #POINTS} points per zone, and only
 * for zones that still exist, so its size is bounded by the number of zones.
 */
final class MetricsHistory {
    /** Five minutes at one sample a second. */
    static final int POINTS = 300;

    /** One point: when, the CPU in percent of one host CPU since the point before (-1: not known), memory bytes. */
    record Point(long timeMillis, double cpuPercent, double memoryBytes) {
    }

    private record Last(long timeMillis, double cpuSeconds) {
    }

    private final Map<String, Deque<Point>> points = new ConcurrentHashMap<>();
    private final Map<String, Last> last = new ConcurrentHashMap<>();

    /**
     * Adds what a zone's sources said now: its CPU seconds so far (-1 when none counts them) and its memory bytes
     * (-1 likewise). A CPU counter that went back (the guest restarted) starts over without a point.
     */
    void add(String zone, long timeMillis, double cpuSeconds, double memoryBytes) {
        double percent = -1;
        Last before = last.get(zone);
        if (cpuSeconds >= 0) {
            if (before != null && before.cpuSeconds >= 0 && cpuSeconds >= before.cpuSeconds
                    && timeMillis > before.timeMillis) {
                percent = (cpuSeconds - before.cpuSeconds) * 100_000.0 / (timeMillis - before.timeMillis);
            }
            last.put(zone, new Last(timeMillis, cpuSeconds));
        }
        Deque<Point> d = points.computeIfAbsent(zone, z -> new ArrayDeque<>());
        synchronized (d) {
            d.addLast(new Point(timeMillis, percent, memoryBytes));
            while (d.size() > POINTS) {
                d.removeFirst();
            }
        }
    }

    /** Forgets every zone not in {@code existing}. */
    void retain(Set<String> existing) {
        points.keySet().retainAll(existing);
        last.keySet().retainAll(existing);
    }

    List<Point> of(String zone) {
        Deque<Point> d = points.get(zone);
        if (d == null) {
            return List.of();
        }
        synchronized (d) {
            return new ArrayList<>(d);
        }
    }

    /** The newest point of a zone, or null. */
    Point latest(String zone) {
        Deque<Point> d = points.get(zone);
        if (d == null) {
            return null;
        }
        synchronized (d) {
            return d.peekLast();
        }
    }
}

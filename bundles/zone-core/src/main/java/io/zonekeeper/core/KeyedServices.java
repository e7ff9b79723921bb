package io.zonekeeper.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Services of one kind by the key they serve (a resource kind, a device type). The first bound of a key is the
 * one used; later ones stand by until it leaves. Used alike for resource providers and device backends.
 *
 * @param <K> the key, ordered naturally (so an enum key is kept in declaration order)
 * @param <S> the service
 */
final class KeyedServices<K extends Comparable<K>, S> {
    private final Map<K, List<S>> byKey = new TreeMap<>();

    synchronized void add(K key, S service) {
        byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(service);
        notifyAll();
    }

    synchronized void remove(S service) {
        byKey.values().forEach(l -> l.remove(service));
    }

    /** The service used for {@code key}, or null when none is bound. */
    synchronized S first(K key) {
        List<S> l = byKey.get(key);
        return l == null || l.isEmpty() ? null : l.get(0);
    }

    /** The service used for {@code key}, waiting up to {@code patience} for one; null when none came. */
    synchronized S await(K key, Duration patience) {
        long deadline = System.nanoTime() + patience.toNanos();
        S s;
        while ((s = first(key)) == null && System.nanoTime() < deadline) {
            try {
                wait(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return s;
    }

    /** Every bound service, those of the first key first. */
    synchronized List<S> all() {
        return byKey.values().stream().flatMap(List::stream).collect(Collectors.toList());
    }

    /** The service used for each key that has one. */
    synchronized Map<K, S> used() {
        Map<K, S> m = new TreeMap<>();
        byKey.forEach((k, l) -> {
            if (!l.isEmpty()) {
                m.put(k, l.get(0));
            }
        });
        return m;
    }
}

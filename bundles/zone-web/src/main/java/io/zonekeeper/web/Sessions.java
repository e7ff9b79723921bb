package io.zonekeeper.web;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Who has logged in: random session ids (256 bits, from {@link SecureRandom}) that end after a while without a
 * request. Held in memory only, so a restart of the appliance logs everyone out; at most {@link #LIMIT} live at once,
 * so that logging in in a loop cannot fill the heap.
 */
final class Sessions {
    static final int LIMIT = 64;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, Long> lastSeen = new ConcurrentHashMap<>();
    private final long idleMillis;
    private final LongSupplier clock;

    Sessions(long idleMillis, LongSupplier clock) {
        this.idleMillis = idleMillis;
        this.clock = clock;
    }

    /** A new session; the oldest is dropped when {@link #LIMIT} are live. */
    synchronized String open() {
        expire();
        if (lastSeen.size() >= LIMIT) {
            lastSeen.entrySet().stream().min(Map.Entry.comparingByValue())
                    .ifPresent(oldest -> lastSeen.remove(oldest.getKey()));
        }
        byte[] id = new byte[32];
        random.nextBytes(id);
        String s = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
        lastSeen.put(s, clock.getAsLong());
        return s;
    }

    /** Whether {@code id} is a live session; a live one lasts another idle period from now. */
    boolean touch(String id) {
        if (id == null) {
            return false;
        }
        long now = clock.getAsLong();
        Long seen = lastSeen.get(id);
        if (seen == null) {
            return false;
        }
        if (now - seen > idleMillis) {
            lastSeen.remove(id);
            return false;
        }
        lastSeen.put(id, now);
        return true;
    }

    void close(String id) {
        if (id != null) {
            lastSeen.remove(id);
        }
    }

    int size() {
        return lastSeen.size();
    }

    private void expire() {
        long now = clock.getAsLong();
        lastSeen.values().removeIf(seen -> now - seen > idleMillis);
    }
}

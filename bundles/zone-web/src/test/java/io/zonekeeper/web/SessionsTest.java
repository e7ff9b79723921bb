package io.zonekeeper.web;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.Test;

public class SessionsTest {
    private final AtomicLong now = new AtomicLong(1_000_000);
    private final Sessions sessions = new Sessions(60_000, now::get);

    @Test
    public void aSessionLastsWhileUsedAndEndsWhenIdle() {
        String s = sessions.open();
        assertEquals(43, s.length()); // 32 random bytes, base64url
        now.addAndGet(50_000);
        assertTrue(sessions.touch(s));
        now.addAndGet(50_000);
        assertTrue("each request extends it", sessions.touch(s));
        now.addAndGet(60_001);
        assertFalse(sessions.touch(s));
        assertFalse("an ended session stays ended", sessions.touch(s));
    }

    @Test
    public void unknownEmptyAndClosedSessionsAreRefused() {
        String s = sessions.open();
        assertNotEquals(s, sessions.open());
        assertFalse(sessions.touch(null));
        assertFalse(sessions.touch(""));
        assertFalse(sessions.touch(s + "x"));
        sessions.close(s);
        assertFalse(sessions.touch(s));
    }

    @Test
    public void atMostLimitLiveTheOldestGoesFirst() {
        List<String> all = new ArrayList<>();
        for (int i = 0; i < Sessions.LIMIT + 5; i++) {
            all.add(sessions.open());
            now.incrementAndGet();
        }
        assertEquals(Sessions.LIMIT, sessions.size());
        assertFalse(sessions.touch(all.get(0)));
        assertTrue(sessions.touch(all.get(all.size() - 1)));
    }
}

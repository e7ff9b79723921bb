package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

import org.junit.Test;

import io.zonekeeper.kvm.StartHandshake.ThreadSample;
import io.zonekeeper.kvm.qmp.QmpException;

/**
 * The start's QMP deadline: a QEMU whose main thread still works (a loaded host) is waited for up to the limit, one
 * whose main thread sits idle is given up after one slice, and a QEMU that is gone ends the wait at once. The clock
 * and QEMU's main thread are scripted: each failed try takes one slice of the clock.
 */
public class StartHandshakeTest {
    private static final Duration SLICE = Duration.ofSeconds(5);
    private static final Duration LIMIT = Duration.ofSeconds(60);
    private static final QmpException NO_ANSWER = new QmpException("qmp_capabilities got no answer within 5000 ms");

    private long clock;
    private int tries;
    private final Deque<Optional<ThreadSample>> samples = new ArrayDeque<>();

    /** Fails {@code failures} times (each taking a slice of the clock), then answers. */
    private StartHandshake<String> handshake(int failures) {
        return new StartHandshake<>(timeout -> {
            tries++;
            if (tries <= failures) {
                clock += timeout.toNanos();
                throw NO_ANSWER;
            }
            return "connected";
        }, () -> samples.size() > 1 ? samples.poll() : samples.peek(), 4242, SLICE, LIMIT, () -> clock);
    }

    private void mainThread(long... ticks) {
        for (long t : ticks) {
            samples.add(Optional.of(new ThreadSample(t, 'S')));
        }
    }

    @Test
    public void aQemuWhoseMainThreadStillWorksIsWaitedForPastOneSlice() throws QmpException {
        // 54 idle zones at load 16: QEMU built its machine 10 ticks at a time, and answered on the fourth try.
        mainThread(5, 15, 25, 35);
        assertEquals("connected", handshake(3).connect());
        assertEquals(4, tries);
    }

    @Test
    public void aRunnableMainThreadCountsAsWorkingEvenWithoutATick() throws QmpException {
        samples.add(Optional.of(new ThreadSample(5, 'S')));
        samples.add(Optional.of(new ThreadSample(5, 'R')));
        samples.add(Optional.of(new ThreadSample(5, 'D')));
        assertEquals("connected", handshake(2).connect());
    }

    @Test
    public void anIdleMainThreadIsGivenUpAfterOneSlice() {
        mainThread(7, 7);
        try {
            handshake(100).connect();
            fail("a QEMU whose main thread sleeps without answering is hung");
        } catch (QmpException e) {
            assertEquals(1, tries);
            assertTrue(e.getMessage(), e.getMessage().startsWith("QEMU pid 4242 does not answer on QMP (5000 ms, 1 try)"
                    + " while its main thread sits idle (no CPU in the last 5000 ms, state S)"));
            assertTrue(e.getMessage(), e.getMessage().endsWith("last: " + NO_ANSWER.getMessage()));
        }
    }

    @Test
    public void aQemuThatKeepsWorkingWithoutAnsweringEndsAtTheLimit() {
        for (long t = 1; t < 100; t++) {
            mainThread(t * 3);
        }
        try {
            handshake(1000).connect();
            fail("the wait has a limit");
        } catch (QmpException e) {
            assertEquals("12 tries of 5 s fit 60 s", 12, tries);
            assertTrue(e.getMessage(), e.getMessage().startsWith("QEMU pid 4242 did not answer on QMP within 60000 ms"
                    + " (12 tries; the limit at start is 60 s) though its main thread kept working (360 ms of CPU"
                    + " meanwhile, state S): the host is too loaded"));
        }
    }

    @Test
    public void aQemuThatIsGoneEndsTheWaitWithItsOwnError() {
        samples.add(Optional.of(new ThreadSample(5, 'S')));
        samples.add(Optional.empty());
        try {
            handshake(100).connect();
            fail("QEMU is gone");
        } catch (QmpException e) {
            assertSame(NO_ANSWER, e);
            assertEquals(1, tries);
        }
    }

    @Test
    public void readsStateAndCpuTimeFromAStatLine() {
        // A command name with spaces and a parenthesis, as a thread may name itself.
        String stat = "4242 (qemu (x) 86) R 1 4242 4242 0 -1 4194560 1000 0 0 0 17 4 0 0 20 0 4 0 100 1 1";
        assertEquals(Optional.of(new ThreadSample(21, 'R')), StartHandshake.parseStat(stat));
        assertEquals(Optional.empty(), StartHandshake.parseStat(stat.replace(") R ", ") Z ")));
        assertEquals(Optional.empty(), StartHandshake.parseStat("garbage"));
        for (String cut : List.of("4242 (q) S 1 2", "4242 (q) S 1 2 3 4 5 6 7 8 9 x y")) {
            assertEquals(cut, Optional.empty(), StartHandshake.parseStat(cut));
        }
        long self = ProcessHandle.current().pid();
        assertTrue("this JVM's main thread", StartHandshake.mainThreadOf(self).isPresent());
        assertEquals(Optional.empty(), StartHandshake.mainThreadOf(Integer.MAX_VALUE));
    }
}

package io.zonekeeper.kvm.qemu;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.Test;

/** Real processes, watched by one shared thread. */
public class ProcessExitsTest {
    @Test
    public void oneThreadSeesEveryExitAndEndsWhenNothingIsLeft() throws Exception {
        ProcessExits exits = new ProcessExits("test-exits", 20);
        List<Process> sleepers = new ArrayList<>();
        List<CompletableFuture<ProcessHandle>> ends = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                Process p = new ProcessBuilder("sleep", "30").start();
                sleepers.add(p);
                ends.add(exits.onExit(p.toHandle()));
            }
            assertEquals(4, exits.watching());
            assertEquals(1, threadsNamed("test-exits"));
            sleepers.get(1).destroyForcibly();
            assertEquals(sleepers.get(1).pid(), ends.get(1).get(10, TimeUnit.SECONDS).pid());
            assertFalse("the others still run", ends.get(0).isDone() || ends.get(2).isDone() || ends.get(3).isDone());
            assertEquals(3, exits.watching());
        } finally {
            sleepers.forEach(Process::destroyForcibly);
        }
        for (CompletableFuture<ProcessHandle> end : ends) {
            assertTrue(end.get(10, TimeUnit.SECONDS) != null);
        }
        for (int i = 0; i < 200 && threadsNamed("test-exits") > 0; i++) {
            Thread.sleep(50);
        }
        assertEquals("the watcher ends with its last process", 0, threadsNamed("test-exits"));
    }

    @Test
    public void aProcessThatEndedAlreadyCompletesAtOnce() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        assertEquals(p.pid(), new ProcessExits("test-exits", 20).onExit(p.toHandle()).get(10, TimeUnit.SECONDS).pid());
    }

    @Test
    public void aForgottenProcessIsNoLongerPolledAndTheWatcherEnds() throws Exception {
        ProcessExits exits = new ProcessExits("test-exits-forget", 20);
        Process p = new ProcessBuilder("sleep", "30").start();
        try {
            CompletableFuture<ProcessHandle> end = exits.onExit(p.toHandle());
            assertEquals(1, threadsNamed("test-exits-forget"));
            exits.forget(p.toHandle());
            assertEquals(0, exits.watching());
            for (int i = 0; i < 200 && threadsNamed("test-exits-forget") > 0; i++) {
                Thread.sleep(50);
            }
            assertEquals("the watcher ends although the process still runs", 0, threadsNamed("test-exits-forget"));
            assertTrue(p.isAlive());
            assertFalse(end.isDone());
        } finally {
            p.destroyForcibly();
        }
    }

    private static long threadsNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && t.getName().equals(name))
                .count();
    }
}

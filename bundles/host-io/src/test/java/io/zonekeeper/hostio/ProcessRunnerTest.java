package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ProcessRunnerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aHungCommandIsEndedByItsTimeoutWithAClearError() throws Exception {
        ProcessRunner.TimedOut e = timesOut(new ProcessRunner(Duration.ofSeconds(1)), List.of("sleep", "60"));
        assertEquals("sleep 60 did not finish within 1 s and was killed", e.getMessage());
        assertGone("the command", e.pid());
    }

    /**
     * The child keeps the command's output open after the command is gone: a runner that reads the output to its
     * end before it waits would hang here for the child's 60 s, its own timeout never reached.
     */
    @Test
    public void aHungCommandWhoseChildHoldsItsOutputOpenIsEndedWithTheChild() throws Exception {
        assertShellAndChildEnded("", Duration.ofSeconds(1), "1 s");
    }

    /** SIGTERM is ignored by the shell and (inherited) by its child: only SIGKILL ends them. */
    @Test
    public void aCommandThatIgnoresSigtermIsKilledAfterTheGrace() throws Exception {
        assertShellAndChildEnded("trap '' TERM; ", Duration.ofMillis(1500), "1.5 s");
    }

    /** A shell that starts {@code sleep 60} in the background and waits for it, after {@code prologue}. */
    private void assertShellAndChildEnded(String prologue, Duration timeout, String shown) throws Exception {
        Path pids = tmp.getRoot().toPath().resolve("child.pid");
        List<String> cmd = List.of("sh", "-c", prologue + "sleep 60 & echo $! > " + pids + "; wait");
        ProcessRunner.TimedOut e = timesOut(new ProcessRunner(timeout), cmd);
        assertEquals(String.join(" ", cmd) + " did not finish within " + shown + " and was killed", e.getMessage());
        assertGone("the shell", e.pid());
        assertGone("its background sleep", Long.parseLong(Files.readString(pids).strip()));
    }

    @Test
    public void outputAndErrorsAreCapturedTogetherAndInputIsFed() throws Exception {
        ProcessRunner r = new ProcessRunner(Duration.ofSeconds(30));
        ProcessRunner.Result res = r.run(List.of("sh", "-c", "cat; echo to-stderr >&2"),
                "from stdin\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(res.ok());
        assertEquals("from stdin\nto-stderr\n", res.requireSuccess());
        assertFalse(res.truncated());
        assertEquals("no input: /dev/null, so cat ends at once", "", r.run(List.of("cat")).requireSuccess());
    }

    @Test
    public void onlyTheFirstBytesOfALongOutputAreKept() throws Exception {
        ProcessRunner.Result res = new ProcessRunner(Duration.ofSeconds(30), 1000)
                .run(List.of("sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"));
        assertEquals("a".repeat(1000), res.output());
        assertEquals(100000, res.outputBytes());
        assertTrue(res.truncated());
    }

    @Test
    public void aFailedCommandIsReportedWithItsExitCodeAndOutput() throws Exception {
        ProcessRunner.Result res = new ProcessRunner(Duration.ofSeconds(30))
                .run(List.of("sh", "-c", "echo no such table >&2; exit 3"));
        assertFalse(res.ok());
        assertEquals(3, res.exitCode());
        try {
            res.requireSuccess();
            fail("exit 3 is a failure");
        } catch (IOException e) {
            assertEquals("sh -c echo no such table >&2; exit 3 failed (exit 3): no such table", e.getMessage());
        }
    }

    @Test
    public void aMissingProgramIsNamed() throws Exception {
        try {
            new ProcessRunner(Duration.ofSeconds(30)).run(List.of("/nonexistent/zk-tool", "x"));
            fail("there is no such program");
        } catch (ProcessRunner.NotStarted e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("/nonexistent/zk-tool could not be run ("));
        }
    }

    @Test
    public void aZeroTimeoutIsRefused() {
        try {
            new ProcessRunner(Duration.ZERO);
            fail("a zero timeout would kill every command");
        } catch (IllegalArgumentException e) {
            assertEquals("a command's timeout must be positive, not PT0S", e.getMessage());
        }
    }

    private static ProcessRunner.TimedOut timesOut(ProcessRunner r, List<String> cmd) throws IOException {
        try {
            ProcessRunner.Result res = r.run(cmd);
            throw new AssertionError("should have timed out, ended with " + res.exitCode() + ": " + res.output());
        } catch (ProcessRunner.TimedOut e) {
            return e;
        }
    }

    /** Gone or a zombie (an orphan whose init has not reaped it yet): either way nothing of it runs. */
    private static void assertGone(String what, long pid) {
        ProcessHandle.of(pid).ifPresent(h -> assertFalse(what + " (pid " + pid + ") still runs",
                ProcessRunner.isRunning(h)));
    }
}

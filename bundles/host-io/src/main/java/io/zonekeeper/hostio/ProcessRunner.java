package io.zonekeeper.hostio;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Runs an external command to its end, or ends it at a deadline.
 *
 * <p>Output and errors go together to a temp file, never to a pipe: a pipe is read to its end only when every
 * process holding it has closed it, and a command's background child may hold it for ever, so a runner that reads
 * a pipe before {@code waitFor} never reaches its own timeout. At the deadline the command and every process it
 * started get SIGTERM, then, after a grace of {@link #GRACE}, SIGKILL; the caller gets a {@link TimedOut} that
 * says so. The descendants are listed before the command dies, since an orphan is no longer its descendant.
 *
 * <p>Of the output, only the first {@code outputLimit} bytes are kept ({@link Result#truncated()} says when more
 * was written). Standard input is the given bytes, or {@code /dev/null}.
 */
public final class ProcessRunner {
    /** How much output is kept by default: far more than any command this appliance parses prints. */
    public static final int DEFAULT_OUTPUT_LIMIT = 4 << 20;
    /** How long a command has between SIGTERM and SIGKILL. */
    public static final Duration GRACE = Duration.ofSeconds(2);
    /** How long the runner waits for SIGKILL to take effect before it reports processes that outlived it. */
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);
    private static final int FAILURE_TAIL = 2000;

    private final Duration timeout;
    private final int outputLimit;

    public ProcessRunner(Duration timeout) {
        this(timeout, DEFAULT_OUTPUT_LIMIT);
    }

    public ProcessRunner(Duration timeout, int outputLimit) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("a command's timeout must be positive, not " + timeout);
        }
        if (outputLimit < 0) {
            throw new IllegalArgumentException("an output limit must not be negative, not " + outputLimit);
        }
        this.timeout = timeout;
        this.outputLimit = outputLimit;
    }

    public Duration timeout() {
        return timeout;
    }

    /**
     * How a command ended: its exit code and the output and errors it printed, of which {@code output} holds the
     * first bytes only where {@code truncated} (it printed {@code outputBytes} in all).
     */
    public record Result(String command, int exitCode, String output, long outputBytes, boolean truncated) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** The output when the command exited with 0; otherwise an exception naming it, its exit code and output. */
        public String requireSuccess() throws IOException {
            if (exitCode != 0) {
                String out = output.strip();
                if (out.length() > FAILURE_TAIL) {
                    out = "..." + out.substring(out.length() - FAILURE_TAIL);
                }
                throw new IOException(command + " failed (exit " + exitCode + ")" + (out.isEmpty() ? "" : ": " + out));
            }
            return output;
        }
    }

    /** The command could not be started at all: no such program, or not executable. */
    public static final class NotStarted extends IOException {
        private static final long serialVersionUID = 1L;

        NotStarted(String program, IOException cause) {
            super(program + " could not be run (" + cause.getMessage() + ")", cause);
        }
    }

    /** The command did not finish in time, and it and the processes it started were killed. */
    public static final class TimedOut extends IOException {
        private static final long serialVersionUID = 1L;
        private final long pid;

        TimedOut(String message, long pid) {
            super(message);
            this.pid = pid;
        }

        /** The pid the command had. */
        public long pid() {
            return pid;
        }
    }

    public Result run(List<String> command) throws IOException {
        return run(command, null);
    }

    /**
     * Runs {@code command} with {@code input} (null: nothing) on its standard input and waits for it, at most the
     * timeout.
     *
     * @throws NotStarted when the program cannot be started
     * @throws TimedOut when it did not finish in time (it has been killed, with everything it started)
     * @throws InterruptedIOException when the calling thread was interrupted (the command has been killed too)
     */
    public Result run(List<String> command, byte[] input) throws IOException {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command to run");
        }
        String shown = String.join(" ", command);
        Path out = Files.createTempFile("zonekeeper-cmd", ".out");
        Path in = null;
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(out.toFile()));
            if (input == null) {
                pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            } else {
                in = Files.createTempFile("zonekeeper-cmd", ".in");
                Files.write(in, input);
                pb.redirectInput(ProcessBuilder.Redirect.from(in.toFile()));
            }
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                throw new NotStarted(command.get(0), e);
            }
            boolean finished;
            try {
                finished = p.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                String left = killTree(p);
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while running " + shown + "; it was killed" + left);
            }
            if (!finished) {
                String left = killTree(p);
                throw new TimedOut(shown + " did not finish within " + seconds(timeout) + " and was killed" + left,
                        p.pid());
            }
            long size = Files.size(out);
            return new Result(shown, p.exitValue(), head(out), size, size > outputLimit);
        } finally {
            Files.deleteIfExists(out);
            if (in != null) {
                Files.deleteIfExists(in);
            }
        }
    }

    private String head(Path out) throws IOException {
        try (InputStream s = Files.newInputStream(out)) {
            return new String(s.readNBytes(outputLimit), StandardCharsets.UTF_8);
        }
    }

    static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() / 1000.0 + " s";
    }

    /**
     * SIGTERM to the command and all its descendants, SIGKILL to those still there after the grace. Returns ""
     * when all ended, else a note naming the pids that outlived even SIGKILL (a process in uninterruptible sleep).
     */
    static String killTree(Process p) {
        Map<Long, ProcessHandle> tree = new LinkedHashMap<>();
        collect(p.toHandle(), tree);
        tree.values().forEach(ProcessHandle::destroy);
        awaitEnd(tree.values(), GRACE);
        // A process may have started another in the meantime; the ones listed stay listed even once orphaned.
        for (ProcessHandle h : new ArrayList<>(tree.values())) {
            if (isRunning(h)) {
                collect(h, tree);
            }
        }
        tree.values().stream().filter(ProcessRunner::isRunning).forEach(ProcessHandle::destroyForcibly);
        awaitEnd(tree.values(), KILL_WAIT);
        try {
            // Reaps the command itself, so that it does not stay a zombie of this JVM.
            p.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        String left = tree.values().stream().filter(ProcessRunner::isRunning).map(h -> Long.toString(h.pid()))
                .collect(Collectors.joining(", "));
        return left.isEmpty() ? "" : "; pid(s) " + left + " still run after SIGKILL";
    }

    private static void collect(ProcessHandle root, Map<Long, ProcessHandle> into) {
        into.putIfAbsent(root.pid(), root);
        root.descendants().forEach(h -> into.putIfAbsent(h.pid(), h));
    }

    private static void awaitEnd(Iterable<ProcessHandle> handles, Duration within) {
        long deadline = System.nanoTime() + within.toNanos();
        for (ProcessHandle h : handles) {
            while (isRunning(h) && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Whether {@code h} still runs. A zombie does not: it has ended and waits only for its parent (or, once
     * orphaned, for an init that may never reap it) to collect its exit code, yet {@link ProcessHandle#isAlive}
     * still says true for it.
     */
    public static boolean isRunning(ProcessHandle h) {
        if (!h.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(h.pid()), "stat"), StandardCharsets.US_ASCII);
            return ProcStat.parse(stat).map(p -> !p.ended()).orElse(true);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return true; // no /proc to ask: trust isAlive
        }
    }
}

package com.example.zonekeeper.tpm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Debian's swtpm as a process: started as a daemon in a session of its own (so that it outlives this bundle and the
 * JVM, like the zone's QEMU does), found again by its PID, and proven to be the one serving a given socket before
 * anything is done to it, so that a PID the kernel reused for another process is never signalled.
 */
final class Swtpm {
    /** What swtpm needs, and where it writes. */
    record Launch(String binary, Path socket, Path stateDir, Path pidFile, Path log) {
        List<String> argv() {
            return List.of(binary, "socket", "--tpm2",
                    // mode 0600: only the appliance's user (who runs QEMU) may connect
                    "--ctrl", "type=unixio,path=" + socket + ",mode=0600",
                    "--tpmstate", "dir=" + stateDir + ",mode=0600",
                    "--pid", "file=" + pidFile,
                    "--log", "file=" + log + ",level=1",
                    // detaches into its own session; the parent exits once the socket listens
                    "--daemon");
        }
    }

    private Swtpm() {
    }

    /**
     * Starts swtpm and returns its PID once its control socket exists. On failure nothing it started is left
     * running, and the message says what swtpm said.
     */
    static long start(Launch l, Duration timeout) throws IOException {
        Process parent;
        try {
            parent = new ProcessBuilder(l.argv()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(l.log().toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + l.binary() + " (" + e.getMessage() + "): install the swtpm package",
                    e);
        }
        try {
            if (!parent.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                parent.destroyForcibly();
                throw new IOException("swtpm did not daemonize within " + timeout.toSeconds() + " s" + said(l));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while swtpm started", e);
        }
        if (parent.exitValue() != 0) {
            throw new IOException("swtpm exited with code " + parent.exitValue() + said(l));
        }
        Optional<Long> written = readPid(l.pidFile());
        for (int i = 0; i < 100 && written.isEmpty(); i++) {
            // The daemon writes it; the parent may be gone a moment before.
            sleep(20);
            written = readPid(l.pidFile());
        }
        long pid = written.orElseThrow(() -> new IOException("swtpm wrote no pid to " + l.pidFile() + said(l)));
        if (!isSwtpmOf(pid, l.socket())) {
            throw new IOException("swtpm pid " + pid + " is gone already" + said(l));
        }
        if (!Files.exists(l.socket())) {
            stop(pid, l.socket(), Duration.ofSeconds(5));
            throw new IOException("swtpm made no socket at " + l.socket() + said(l));
        }
        return pid;
    }

    private static String said(Launch l) {
        try {
            if (!Files.exists(l.log())) {
                return "";
            }
            List<String> lines = Files.readAllLines(l.log(), StandardCharsets.UTF_8);
            return "; swtpm said: " + String.join(" / ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }

    static Optional<Long> readPid(Path pidFile) {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile).trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** The process's arguments from /proc, empty when it is gone. */
    static List<String> cmdline(long pid) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            List<String> args = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            return args;
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Whether {@code pid} is alive and is a swtpm serving {@code socket}: the proof before any signal. */
    static boolean isSwtpmOf(long pid, Path socket) {
        List<String> argv = cmdline(pid);
        if (argv.isEmpty() || !Path.of(argv.get(0)).getFileName().toString().equals("swtpm")) {
            return false;
        }
        String ctrl = "path=" + socket + ",";
        return argv.stream().anyMatch(a -> a.contains(ctrl));
    }

    /**
     * Stops the swtpm {@code pid} if it is proven to serve {@code socket}: SIGTERM, then SIGKILL after the grace.
     *
     * @return false when it still runs after SIGKILL
     */
    static boolean stop(long pid, Path socket, Duration grace) {
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty() || !isSwtpmOf(pid, socket)) {
            return true;
        }
        h.get().destroy();
        if (waitGone(h.get(), grace)) {
            return true;
        }
        h.get().destroyForcibly();
        return waitGone(h.get(), Duration.ofSeconds(5));
    }

    private static boolean waitGone(ProcessHandle h, Duration d) {
        // Not our child (it daemonized), so onExit() polls; a plain loop says the same.
        long deadline = System.nanoTime() + d.toNanos();
        while (h.isAlive() && System.nanoTime() < deadline && sleep(20)) {
            // waiting
        }
        return !h.isAlive();
    }

    /** Sleeps; false when interrupted (the interrupt is kept). */
    private static boolean sleep(long ms) {
        try {
            Thread.sleep(ms);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}

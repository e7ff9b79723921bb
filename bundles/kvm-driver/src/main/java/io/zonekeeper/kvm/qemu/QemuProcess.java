package io.zonekeeper.kvm.qemu;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.hostio.GuestProcessScan;
import io.zonekeeper.hostio.GuestText;
import io.zonekeeper.spi.DriverException;

/**
 * One zone's QEMU process. It runs in its own session ({@code setsid}) with stdin on /dev/null and its output in
 * a file, never a pipe, so it outlives the JVM and never blocks on an undrained pipe. Known by its PID, which is
 * only acted on after proof that it is still that zone's QEMU ({@link #isQemuOf}).
 */
public final class QemuProcess {
    private final long pid;
    private final Process child;
    private final ProcessHandle handle;

    private QemuProcess(long pid, Process child, ProcessHandle handle) {
        this.pid = pid;
        this.child = child;
        this.handle = handle;
    }

    /**
     * Starts QEMU and returns once it has written its pidfile and made its QMP socket. On any failure it kills
     * what it started and throws with QEMU's own error text; removing the other files is the caller's job.
     */
    public static QemuProcess launch(List<String> argv, ZoneFiles files, Duration timeout) throws DriverException {
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid");
        cmd.addAll(argv);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(files.dir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.to(files.qemuLog().toFile())).redirectErrorStream(true);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new DriverException("cannot start " + argv.get(0) + ": " + e.getMessage()
                    + " (is qemu-system-x86 installed, and util-linux's setsid on the PATH?)", e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                if (!p.isAlive()) {
                    p.waitFor(1, TimeUnit.SECONDS);
                    throw new DriverException("QEMU exited at start with code " + p.exitValue() + ": "
                            + tail(files.qemuLog(), 2000));
                }
                OptionalInt pidFromFile = readPid(files.pidFile());
                if (pidFromFile.isPresent() && Files.exists(files.qmpSocket())) {
                    long pid = pidFromFile.getAsInt();
                    if (pid == p.pid()) {
                        return new QemuProcess(pid, p, p.toHandle());
                    }
                    // setsid forked after all: the pidfile names the real QEMU.
                    Optional<ProcessHandle> h = ProcessHandle.of(pid);
                    if (h.isPresent()) {
                        return new QemuProcess(pid, null, h.get());
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new DriverException("QEMU did not make its pidfile and QMP socket within "
                            + timeout.toMillis() + " ms: " + tail(files.qemuLog(), 2000));
                }
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            killNow(p, files);
            throw new DriverException("interrupted while starting QEMU", e);
        } catch (DriverException e) {
            killNow(p, files);
            throw e;
        }
    }

    private static void killNow(Process p, ZoneFiles files) {
        OptionalInt fromFile = readPid(files.pidFile());
        p.destroyForcibly();
        if (fromFile.isPresent() && fromFile.getAsInt() != p.pid()) {
            ProcessHandle.of(fromFile.getAsInt()).ifPresent(h -> {
                if (isQemu(cmdline(h.pid()))) {
                    h.destroyForcibly();
                }
            });
        }
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A QEMU started earlier, found again by PID; empty when no such process runs. */
    public static Optional<QemuProcess> find(long pid) {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).map(h -> new QemuProcess(pid, null, h));
    }

    public long pid() {
        return pid;
    }

    public boolean isAlive() {
        return handle.isAlive();
    }

    /**
     * Completes when the process ends. A child of this JVM already has the JDK's reaper waiting for it, so its exit
     * comes from there; any other QEMU is watched by the shared {@link ProcessExits} rather than by a thread of its
     * own.
     */
    public CompletableFuture<ProcessHandle> onExit() {
        boolean child = this.child != null || handle.parent().map(p -> p.pid() == ProcessHandle.current().pid())
                .orElse(false);
        return child ? handle.onExit() : ProcessExits.SHARED.onExit(handle);
    }

    /** The exit code, known only when this JVM started the process and it has ended. */
    public OptionalInt exitCode() {
        if (child != null && !child.isAlive()) {
            return OptionalInt.of(child.exitValue());
        }
        return OptionalInt.empty();
    }

    /** SIGKILL, then waits up to {@code wait} for the process to be gone. */
    public boolean kill(Duration wait) {
        handle.destroyForcibly();
        return waitFor(wait);
    }

    public boolean waitFor(Duration wait) {
        try {
            onExit().get(wait.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            return !handle.isAlive();
        }
    }

    /** The process's arguments from /proc, empty when it is gone or unreadable. */
    public static List<String> cmdline(long pid) {
        return GuestProcessScan.cmdline(Path.of("/proc", String.valueOf(pid), "cmdline"));
    }

    static boolean isQemu(List<String> argv) {
        if (argv.isEmpty()) {
            return false;
        }
        String exe = argv.get(0).substring(argv.get(0).lastIndexOf('/') + 1);
        return exe.startsWith("qemu-system-") || exe.startsWith("qemu-kvm");
    }

    /** Why {@code argv} is not the QEMU of zone {@code id}, or empty when it is. */
    public static Optional<String> whyNotQemuOf(List<String> argv, UUID id) {
        if (argv.isEmpty()) {
            return Optional.of("the process is gone");
        }
        if (!isQemu(argv)) {
            return Optional.of("the process is " + argv.get(0) + ", not QEMU");
        }
        for (int i = 0; i + 1 < argv.size(); i++) {
            if (argv.get(i).equals("-uuid")) {
                return argv.get(i + 1).equalsIgnoreCase(id.toString()) ? Optional.empty()
                        : Optional.of("the QEMU runs VM " + argv.get(i + 1) + ", not " + id);
            }
        }
        return Optional.of("the QEMU has no -uuid, so it is not one the kvm driver started");
    }

    public static boolean isQemuOf(long pid, UUID id) {
        return whyNotQemuOf(cmdline(pid), id).isEmpty();
    }

    public static OptionalInt readPid(Path pidFile) {
        try {
            String s = Files.readString(pidFile).trim();
            return s.isEmpty() ? OptionalInt.empty() : OptionalInt.of(Integer.parseInt(s));
        } catch (IOException | NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** The last {@code max} characters of a text file, escaped, or a note that it is empty. */
    public static String tail(Path file, int max) {
        try {
            String s = GuestText.escape(FileTail.read(file, max * 4).text().strip());
            if (s.isEmpty()) {
                return "(QEMU printed nothing)";
            }
            return s.length() <= max ? s : "..." + s.substring(s.length() - max);
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }
}

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
import io.zonekeeper.hostio.ProcStat;
import io.zonekeeper.spi.DriverException;

/**
 * One zone's QEMU process. It runs in its own session ({@code setsid}) with stdin on /dev/null and its output in
 * a file, never a pipe, so it outlives the JVM and never blocks on an undrained pipe. Known by its PID, which is
 * only acted on after proof that it is still that zone's QEMU ({@link #isQemuOf}).
 */
public final class QemuProcess {
    /** The environment variable that names the pid of the JVM that launched a QEMU. */
    public static final String LAUNCHED_BY = "ZONEKEEPER_LAUNCHED_BY";
    /** How many scans 50 ms apart must find no process of the zone before a launch counts as failed. */
    private static final int ABSENT_SCANS = 4;
    private static final long SCAN_INTERVAL_MS = 50;
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
     *
     * <p>QEMU is started through {@code setsid --fork}, so it is not a child of this JVM: the JDK parks a reaper
     * thread for every child as long as it lives, and a hundred zones would hold a hundred of them. Its exit is seen
     * by the shared {@link ProcessExits} instead, as for a QEMU adopted after a restart; the exit code is lost, but
     * QEMU's own words are in its log.
     */
    public static QemuProcess launch(List<String> argv, ZoneFiles files, Duration timeout) throws DriverException {
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid");
        cmd.add("--fork");
        cmd.addAll(argv);
        Optional<UUID> uuid = GuestProcessScan.uuidOn(argv);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(files.dir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.to(files.qemuLog().toFile())).redirectErrorStream(true);
        // Not our child, so named in its environment: tools and tests find the QEMUs a given JVM launched.
        pb.environment().put(LAUNCHED_BY, String.valueOf(ProcessHandle.current().pid()));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new DriverException("cannot start " + argv.get(0) + ": " + e.getMessage()
                    + " (is qemu-system-x86 installed, and util-linux's setsid on the PATH?)", e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextScan = -1;
        int absentScans = 0;
        try {
            while (true) {
                OptionalInt pidFromFile = readPid(files.pidFile());
                if (pidFromFile.isPresent() && Files.exists(files.qmpSocket())) {
                    Optional<ProcessHandle> h = ProcessHandle.of(pidFromFile.getAsInt());
                    if (h.isPresent()) {
                        return new QemuProcess(h.get().pid(), null, h.get());
                    }
                }
                if (!p.isAlive() && p.exitValue() != 0) {
                    throw new DriverException("QEMU exited at start: setsid ended with code " + p.exitValue() + ": "
                            + tail(files.qemuLog(), 2000));
                }
                // Once setsid has forked and returned, QEMU (or the shell of its jail, before it execs QEMU) is the
                // only process with the zone's uuid; none left means QEMU gave up. A process in the middle of an
                // exec shows an empty command line for a moment, so only an absence seen several times counts.
                // The first scan comes one interval after setsid returned, not at once: QEMU makes its pidfile and
                // QMP socket in about that time, and a scan reads every process's command line (20-300 ms on a busy
                // 2-core host, beside QEMU's own start), so a start that goes well seldom needs one.
                if (!p.isAlive() && uuid.isPresent() && nextScan < 0) {
                    nextScan = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SCAN_INTERVAL_MS);
                } else if (!p.isAlive() && uuid.isPresent() && System.nanoTime() >= nextScan) {
                    nextScan = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SCAN_INTERVAL_MS);
                    boolean absent = GuestProcessScan.host().pidsOf(uuid.get()).isEmpty()
                            && !(readPid(files.pidFile()).isPresent() && Files.exists(files.qmpSocket()));
                    absentScans = absent ? absentScans + 1 : 0;
                    if (absentScans >= ABSENT_SCANS) {
                        throw new DriverException("QEMU exited at start: " + tail(files.qemuLog(), 2000));
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
            killNow(p, files, uuid);
            throw new DriverException("interrupted while starting QEMU", e);
        } catch (DriverException e) {
            killNow(p, files, uuid);
            throw e;
        }
    }

    /** Kills what a failed launch left: the setsid, the QEMU its pidfile names, any QEMU with the zone's uuid. */
    private static void killNow(Process p, ZoneFiles files, Optional<UUID> uuid) {
        p.destroyForcibly();
        List<ProcessHandle> left = new ArrayList<>();
        readPid(files.pidFile()).ifPresent(pid -> ProcessHandle.of(pid).filter(h -> isQemu(cmdline(h.pid())))
                .ifPresent(left::add));
        uuid.ifPresent(u -> GuestProcessScan.host().pidsOf(u).forEach(pid -> ProcessHandle.of(pid)
                .ifPresent(left::add)));
        left.forEach(ProcessHandle::destroyForcibly);
        try {
            p.waitFor(5, TimeUnit.SECONDS);
            for (ProcessHandle h : left) {
                h.onExit().get(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // killed with SIGKILL; the caller reports the launch's own failure
        }
    }

    /** A QEMU started earlier, found again by PID; empty when no such process runs. */
    public static Optional<QemuProcess> find(long pid) {
        return ProcessHandle.of(pid).filter(QemuProcess::running).map(h -> new QemuProcess(pid, null, h));
    }

    /**
     * Whether {@code h} still runs. A QEMU launched detached is not this JVM's child, so when it ends it stays a
     * zombie until the host's init reaps it, which some inits do only every second or two; the JDK counts a zombie
     * as alive, this does not.
     */
    public static boolean running(ProcessHandle h) {
        if (!h.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(h.pid()), "stat"));
            return ProcStat.parse(stat).map(p -> !p.ended()).orElse(true);
        } catch (IOException e) {
            return h.isAlive(); // gone between the two looks, or /proc unreadable: the JDK's word
        }
    }

    public long pid() {
        return pid;
    }

    public boolean isAlive() {
        return running(handle);
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

    /**
     * Lets go of the exit watch that {@link #onExit()} started for a process that is not this JVM's child; what
     * waits on that future then never runs. For a driver that stops watching the guest.
     */
    public void forgetExit() {
        if (child == null) {
            ProcessExits.SHARED.forget(handle);
        }
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

    /**
     * Waits up to {@code wait} for the process to end. The caller's thread waits, so it looks often rather than
     * relying on the shared watcher's slower round.
     */
    public boolean waitFor(Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (running(handle)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !running(handle);
            }
        }
        return true;
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

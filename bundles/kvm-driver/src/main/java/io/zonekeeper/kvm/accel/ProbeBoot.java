package io.zonekeeper.kvm.accel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.kvm.qmp.QmpException;

/**
 * Step 2 of the accelerator decision: boot the real zone kernel with a probe initramfs under {@code -accel kvm}
 * and wait, briefly, for the initramfs's marker on the serial console. Only reaching init proves KVM can run the
 * zone: a PVM host runs the ioctl self-test's tiny guest and still never gets Debian's kernel to init.
 *
 * <p>An internal error (QMP status {@code internal-error}, asked through the driver's one {@link QmpClient}), QEMU
 * exiting or aborting, or the deadline all mean TCG. The probe QEMU is always killed by its PID, and its folder
 * (serial log, QMP socket, QEMU's output) removed.
 */
final class ProbeBoot {

    static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(5);
    private static final long POLL_MILLIS = 20;
    /** The longest the probe waits on one QMP exchange, so that the probe loop keeps its own deadline. */
    private static final Duration QMP_WAIT = Duration.ofMillis(500);
    private static final int MAX_LOG_CHARS = 1 << 20;

    enum Ending {
        /** The marker appeared on the serial console. */
        REACHED_INIT,
        /** QMP reported status internal-error: KVM could not emulate something. */
        INTERNAL_ERROR,
        /** QEMU exited (error, abort, or guest power-off) before the marker. */
        EXITED,
        /** No marker before the deadline. */
        DEADLINE,
        /** QEMU could not be started at all. */
        NOT_STARTED
    }

    /** One QEMU run. {@code pid} is -1 when QEMU never started. */
    record Attempt(String cpu, Ending ending, String detail, long pid, long elapsedNanos) {
    }

    record Result(boolean reachedInit, String reason, Map<String, String> steps) {
    }

    private final String qemuBinary;
    private final Duration deadline;
    private final Path workRoot;

    /**
     * @param workRoot where each attempt's temporary folder is made; keep it short, a QMP socket path must fit
     *                 in 108 bytes
     */
    ProbeBoot(String qemuBinary, Duration deadline, Path workRoot) {
        this.qemuBinary = qemuBinary;
        this.deadline = deadline;
        this.workRoot = workRoot;
    }

    ProbeBoot(String qemuBinary) {
        this(qemuBinary, DEFAULT_DEADLINE, Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** Tries {@code -cpu host}; if QEMU dies on it at once (as on a PVM host), tries {@code -cpu qemu64}. */
    Result run(Path kernel, Path initramfs, String marker) {
        StepLog log = new StepLog();
        Attempt host = attempt("host", kernel, initramfs, marker, log);
        Attempt last = host;
        if (host.ending() == Ending.EXITED) {
            last = attempt("qemu64", kernel, initramfs, marker, log);
        }
        if (last.ending() == Ending.REACHED_INIT) {
            return new Result(true, "probe boot reached init under KVM in "
                    + StepLog.millis(last.elapsedNanos()) + " (-cpu " + last.cpu() + ")", log.asMap());
        }
        String reason = "probe boot under KVM failed (-cpu " + last.cpu() + "): " + last.detail();
        if (last != host) {
            reason += "; with -cpu host: " + host.detail();
        }
        return new Result(false, reason, log.asMap());
    }

    Attempt attempt(String cpu, Path kernel, Path initramfs, String marker, StepLog log) {
        String step = "probe boot -cpu " + cpu;
        long start = System.nanoTime();
        Attempt a = attempt(cpu, kernel, initramfs, marker);
        String line = a.detail() + (a.pid() > 0 ? " [pid " + a.pid() + "]" : "");
        if (a.ending() == Ending.REACHED_INIT) {
            log.ok(step, start, line);
        } else {
            log.failed(step, start, line);
        }
        return a;
    }

    Attempt attempt(String cpu, Path kernel, Path initramfs, String marker) {
        long start = System.nanoTime();
        Path dir;
        try {
            Files.createDirectories(workRoot);
            dir = Files.createTempDirectory(workRoot, "accel-probe-");
        } catch (IOException e) {
            return new Attempt(cpu, Ending.NOT_STARTED, "cannot make a work folder in " + workRoot + ": " + e, -1,
                    System.nanoTime() - start);
        }
        Path serial = dir.resolve("serial.log");
        Path qmpSocket = dir.resolve("qmp.sock");
        Path output = dir.resolve("qemu.out");
        Process qemu = null;
        try {
            Files.createFile(serial);
            ProcessBuilder pb = new ProcessBuilder(command(cpu, kernel, initramfs, serial, qmpSocket))
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
            try {
                qemu = pb.start();
            } catch (IOException e) {
                return new Attempt(cpu, Ending.NOT_STARTED, "cannot start " + qemuBinary + ": " + e.getMessage(), -1,
                        System.nanoTime() - start);
            }
            return watch(cpu, qemu, serial, qmpSocket, output, marker, start);
        } catch (IOException e) {
            return new Attempt(cpu, Ending.NOT_STARTED, "cannot prepare the probe: " + e, -1,
                    System.nanoTime() - start);
        } finally {
            kill(qemu);
            deleteTree(dir);
        }
    }

    List<String> command(String cpu, Path kernel, Path initramfs, Path serial, Path qmpSocket) {
        List<String> cmd = new ArrayList<>();
        cmd.add(qemuBinary);
        cmd.addAll(List.of("-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on"));
        cmd.addAll(List.of("-accel", "kvm", "-cpu", cpu, "-m", "128"));
        cmd.addAll(List.of("-nodefaults", "-no-reboot", "-display", "none"));
        cmd.addAll(List.of("-serial", "file:" + serial));
        cmd.addAll(List.of("-qmp", "unix:" + qmpSocket + ",server=on,wait=off"));
        cmd.addAll(List.of("-kernel", kernel.toString(), "-initrd", initramfs.toString()));
        cmd.addAll(List.of("-append", "console=ttyS0 quiet panic=-1 rdinit=/init"));
        return cmd;
    }

    private Attempt watch(String cpu, Process qemu, Path serial, Path qmpSocket, Path output, String marker,
            long start) {
        long pid = qemu.pid();
        long limit = start + deadline.toNanos();
        SerialWatch console = new SerialWatch(serial, marker);
        QmpClient qmp = null;
        String status = null;
        try {
            while (true) {
                if (console.sawMarker()) {
                    return new Attempt(cpu, Ending.REACHED_INIT, "marker after " + StepLog.millis(System.nanoTime() - start),
                            pid, System.nanoTime() - start);
                }
                if (!qemu.isAlive()) {
                    long elapsed = System.nanoTime() - start;
                    if (console.sawMarker()) {
                        return new Attempt(cpu, Ending.REACHED_INIT, "marker after " + StepLog.millis(elapsed), pid, elapsed);
                    }
                    return new Attempt(cpu, Ending.EXITED, "QEMU exited with status " + exitStatus(qemu) + " after "
                            + StepLog.millis(elapsed) + " before init" + lastLines(output), pid, elapsed);
                }
                if (qmp == null || !qmp.isOpen()) {
                    qmp = connect(qmpSocket, limit);
                }
                if (qmp != null) {
                    status = status(qmp, limit, status);
                }
                if ("internal-error".equals(status)) {
                    long elapsed = System.nanoTime() - start;
                    return new Attempt(cpu, Ending.INTERNAL_ERROR, "QMP status internal-error after "
                            + StepLog.millis(elapsed) + lastLines(output), pid, elapsed);
                }
                if (System.nanoTime() - limit >= 0) {
                    long elapsed = System.nanoTime() - start;
                    return new Attempt(cpu, Ending.DEADLINE, "no init marker within " + deadline.toMillis()
                            + " ms (QMP status " + (status == null ? "unknown" : status) + ", serial "
                            + console.length() + " chars)" + lastLines(output), pid, elapsed);
                }
                sleep(POLL_MILLIS);
            }
        } finally {
            if (qmp != null) {
                qmp.close();
            }
        }
    }

    /**
     * The probe's QMP connection once QEMU has made its socket, or null: QEMU not listening yet, or gone, is for the
     * process check and the deadline to judge, never a reason to wait past the deadline.
     */
    private static QmpClient connect(Path socket, long limitNanos) {
        if (!Files.exists(socket)) {
            return null;
        }
        try {
            return QmpClient.connect(socket, Duration.ofNanos(Math.max(1, Math.min(limitNanos - System.nanoTime(),
                    QMP_WAIT.toNanos()))), null, null);
        } catch (QmpException e) {
            return null;
        }
    }

    /** QEMU's run state ({@code running}, {@code internal-error}, ...), or {@code last} when it does not answer. */
    private static String status(QmpClient qmp, long limitNanos, String last) {
        try {
            return qmp.queryStatus(Duration.ofNanos(Math.max(1, Math.min(limitNanos - System.nanoTime(),
                    QMP_WAIT.toNanos()))));
        } catch (QmpException e) {
            return last;
        }
    }

    private static String exitStatus(Process p) {
        int code = p.exitValue();
        return code > 128 ? code + " (signal " + (code - 128) + ")" : String.valueOf(code);
    }

    /** The last meaningful lines QEMU printed, e.g. "Could not access KVM kernel module: ...": bounded, escaped. */
    private static String lastLines(Path output) {
        String text = String.join(" | ", FileTail.lastLines(output, 3, 4096));
        return text.isEmpty() ? "" : ": " + (text.length() > 400 ? text.substring(0, 400) + "..." : text);
    }

    /** SIGKILL to the probe's own PID, then reap it. */
    private static void kill(Process qemu) {
        if (qemu == null) {
            return;
        }
        qemu.destroyForcibly();
        try {
            if (!qemu.waitFor(5, TimeUnit.SECONDS)) {
                // Still there after SIGKILL: nothing more a user-space process can do; leave the handle to the JVM.
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // best effort: a leftover file in the temp folder is not worth failing the decision for
                }
            });
        } catch (IOException e) {
            // as above
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during the probe boot", e);
        }
    }

    /** Reads the serial log as it grows and looks for the marker, including across read boundaries. */
    private static final class SerialWatch {
        private final Path file;
        private final String marker;
        private final StringBuilder text = new StringBuilder();
        private long position;
        private boolean seen;

        SerialWatch(Path file, String marker) {
            this.file = file;
            this.marker = marker;
        }

        boolean sawMarker() {
            if (seen) {
                return true;
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
                int n;
                while ((n = ch.read(buf, position)) > 0) {
                    position += n;
                    buf.flip();
                    int from = Math.max(0, text.length() - marker.length());
                    text.append(StandardCharsets.ISO_8859_1.decode(buf));
                    buf.clear();
                    if (text.indexOf(marker, from) >= 0) {
                        seen = true;
                        return true;
                    }
                    if (text.length() > MAX_LOG_CHARS) {
                        text.delete(0, text.length() - marker.length());
                    }
                }
            } catch (IOException e) {
                // not there yet or unreadable: the deadline decides
            }
            return false;
        }

        int length() {
            return (int) position;
        }
    }
}

package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.api.ZoneState;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.kvm.qmp.QmpEvent;
import io.zonekeeper.spi.ZoneContext;

/**
 * Watches one running zone: its QMP events and its process. When QEMU ends without being asked, it tells zone-core
 * why: STOPPED when the guest powered off, CRASHED (with the console's last lines) otherwise. Releasing the watch
 * closes QMP and leaves the guest running.
 */
final class ZoneWatch {
    private static final int CONSOLE_LINES = 15;
    /** How much of the console's end a report reads for its last lines: a guest may have flooded the log. */
    private static final int CONSOLE_TAIL = 4096;

    final UUID id;
    final ZoneContext zone;
    final ZoneFiles files;
    final QemuProcess process;
    final String accel;
    private volatile QmpClient qmp;
    private final CountDownLatch qmpClosed = new CountDownLatch(1);
    private volatile ZoneState state = ZoneState.RUNNING;
    private volatile String shutdownReason = "";
    private volatile boolean asked;
    private volatile boolean released;
    private volatile boolean expectPause;
    private volatile boolean expectResume;
    private final java.util.function.Consumer<ZoneWatch> onGone;

    ZoneWatch(ZoneContext zone, ZoneFiles files, QemuProcess process, String accel,
            java.util.function.Consumer<ZoneWatch> onGone) {
        this.id = zone.id();
        this.zone = zone;
        this.files = files;
        this.process = process;
        this.accel = accel;
        this.onGone = onGone;
    }

    void attach(QmpClient client, ZoneState initial) {
        this.qmp = client;
        this.state = initial;
        process.onExit().thenRunAsync(this::exited);
    }

    QmpClient qmp() {
        return qmp;
    }

    ZoneState state() {
        return state;
    }

    /** Marks that the driver itself ends the guest, so its exit is no news to report. */
    void ask() {
        asked = true;
        state = ZoneState.STOPPING;
    }

    void expectPause() {
        expectPause = true;
    }

    void expectResume() {
        expectResume = true;
    }

    void paused() {
        state = ZoneState.PAUSED;
    }

    void resumed() {
        state = ZoneState.RUNNING;
    }

    /** Stops watching; the guest keeps running. */
    void release() {
        released = true;
        QmpClient c = qmp;
        if (c != null) {
            c.close();
        }
        // A released watch ignores the exit anyway; without this, a replaced driver bundle's exit watcher kept polling
        // every guest it had let go of (and kept that bundle's classes) until the guest ended, one more per upgrade.
        process.forgetExit();
    }

    void onEvent(QmpEvent e) {
        switch (e.name()) {
            case QmpEvent.SHUTDOWN -> shutdownReason = e.reason();
            case QmpEvent.STOP -> {
                if (state == ZoneState.RUNNING) {
                    state = ZoneState.PAUSED;
                    if (!expectPause && !asked) {
                        report(ZoneState.PAUSED, "QEMU paused the guest by itself; its console says: "
                                + String.join(" | ", FileTail.lastLines(files.consoleLog(), 5, CONSOLE_TAIL)));
                    }
                }
                expectPause = false;
            }
            case QmpEvent.RESUME -> {
                if (state == ZoneState.PAUSED) {
                    state = ZoneState.RUNNING;
                    if (!expectResume && !asked) {
                        report(ZoneState.RUNNING, "the guest was resumed outside the driver");
                    }
                }
                expectResume = false;
            }
            default -> {
            }
        }
    }

    void onQmpClosed() {
        qmpClosed.countDown();
    }

    private void exited() {
        try {
            // QEMU writes its SHUTDOWN event before it exits; wait for the reader to see the end of the stream.
            qmpClosed.await(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        QmpClient c = qmp;
        if (c != null) {
            c.close();
        }
        if (released) {
            return;
        }
        // The exit is seen by a shared watcher, a moment after it happened. When the driver ended the guest it has
        // already removed these files, and by now the zone may have been destroyed and a zone of the same name
        // started in the same folder: its files are not this QEMU's to remove. The pidfile tells whose they are.
        if (!asked && pidFileIsOurs()) {
            KvmDriver.removeRuntimeFiles(files, zone.spec());
        }
        String reason = shutdownReason;
        ZoneState end;
        String why;
        if (asked) {
            end = ZoneState.STOPPED;
            why = "stopped by the driver";
        } else if (reason.equals("guest-shutdown")) {
            end = ZoneState.STOPPED;
            why = "the guest powered off" + workloadExit(zone.name(),
                    FileTail.lastLines(files.consoleLog(), CONSOLE_LINES, CONSOLE_TAIL)).map(code -> ": workload exited "
                            + code).orElse("");
        } else {
            end = ZoneState.CRASHED;
            String cause = switch (reason) {
                case "guest-reset" -> "the guest reset itself (a kernel panic, or a reboot, which zones do not do)";
                case "guest-panic" -> "the guest kernel panicked";
                case "host-signal" -> "QEMU was ended by a signal sent on the host";
                case "host-qmp-quit" -> "QEMU was told to quit over QMP by someone other than the driver";
                case "" -> "QEMU exited without the guest powering off"
                        + process.exitCode().stream().mapToObj(x -> " (exit code " + x + ")").findFirst().orElse("");
                default -> "QEMU shut down: " + reason;
            };
            List<String> console = FileTail.lastLines(files.consoleLog(), CONSOLE_LINES, CONSOLE_TAIL);
            why = cause + "; last console lines: " + (console.isEmpty() ? "(none)" : String.join(" | ", console));
            if (reason.isEmpty() && Files.exists(files.qemuLog())) {
                why += "; QEMU said: " + QemuProcess.tail(files.qemuLog(), 500);
            }
        }
        state = end;
        onGone.accept(this);
        if (!asked) {
            report(end, why);
        }
    }

    /** Whether the zone folder's pidfile is absent or names this watch's QEMU (not a later one's). */
    private boolean pidFileIsOurs() {
        java.util.OptionalInt pid = QemuProcess.readPid(files.pidFile());
        return pid.isEmpty() || pid.getAsInt() == process.pid();
    }

    /** The exit status an image zone's init printed last, if the console's last lines hold one. */
    static java.util.Optional<Integer> workloadExit(String name, List<String> lastLines) {
        return io.zonekeeper.image.ImageWorkload.exitStatus(name, lastLines);
    }

    private void report(ZoneState s, String why) {
        try {
            zone.report(s, why);
        } catch (RuntimeException ignored) {
            // zone-core's trouble; the watch has nothing better to do with it
        }
    }

    static void deleteQuietly(java.nio.file.Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a leftover socket file is removed before the next start
        }
    }
}

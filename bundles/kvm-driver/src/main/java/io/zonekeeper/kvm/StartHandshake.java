package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import io.zonekeeper.hostio.ProcStat;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.kvm.qmp.QmpEvent;
import io.zonekeeper.kvm.qmp.QmpException;

/**
 * The QMP handshake of a QEMU the driver has just launched, with a deadline that fits a loaded host.
 *
 * <p>QEMU sends its QMP greeting from its monitor thread as soon as a client connects, but it answers
 * {@code qmp_capabilities} only from its main loop, which runs after the machine is built: guest RAM allocated, the
 * 64 MiB vmlinux and the initramfs loaded into it. That takes QEMU's main thread 0.15-0.25 s of CPU here, so its
 * answer comes when the main thread got that much CPU: after about 0.2 s on an idle host, 0.7 s with a fifth of a
 * core, 2.6 s with a twentieth (measured 2026-12-03 under a CPU quota), and on a host with 54 idle zones at load 16
 * after more than 5 s, the fixed deadline there was: the start failed though nothing was wrong.
 *
 * <p>So the deadline is on progress, not on the wall clock alone: after each {@code slice} without an answer the
 * driver looks at QEMU's main thread. While it still gets CPU time (or is runnable, or in disk wait), QEMU is slow,
 * not stuck, and the driver tries again, up to {@code limit} in all; a main thread that got no CPU through a whole
 * slice and sleeps is hung (or another client holds QEMU's one QMP connection), and the start fails at once,
 * saying so. Either way the caller kills that QEMU (the
 * start attempt's failure path), so nothing is left running. QEMU's QMP socket takes one client at a time: each try
 * closes its connection before the next one connects, and what the last one had asked is dropped with it.
 */
final class StartHandshake<C> {
    /** What is known of a thread at one moment: its CPU time so far (clock ticks) and its state letter. */
    record ThreadSample(long cpuTicks, char state) {
        /** Whether it is running, waiting for a CPU ({@code R}) or waiting for the disk ({@code D}). */
        boolean busy() {
            return state == 'R' || state == 'D';
        }
    }

    /** Reads a thread's sample; empty when the process is gone. */
    interface ThreadWatch {
        Optional<ThreadSample> sample();
    }

    /** One try at the handshake, within {@code timeout}; {@link QmpClient#connect} outside tests. */
    interface Connector<C> {
        C connect(Duration timeout) throws QmpException;
    }

    private final Connector<C> connector;
    private final ThreadWatch mainThread;
    private final long pid;
    private final Duration slice;
    private final Duration limit;
    private final LongSupplier nanoTime;

    StartHandshake(Connector<C> connector, ThreadWatch mainThread, long pid, Duration slice, Duration limit,
            LongSupplier nanoTime) {
        this.connector = connector;
        this.nanoTime = nanoTime;
        this.mainThread = mainThread;
        this.pid = pid;
        this.slice = slice;
        this.limit = limit;
    }

    /** The handshake with the QEMU whose pid is {@code pid}, on its QMP socket, watching its main thread in /proc. */
    static QmpClient connect(Path socket, long pid, Duration slice, Duration limit, Consumer<QmpEvent> listener,
            Runnable onClose) throws QmpException {
        return new StartHandshake<QmpClient>(t -> attempt(socket, t, listener, onClose), () -> mainThreadOf(pid), pid,
                slice, limit, System::nanoTime).connect();
    }

    /**
     * One try. Only the connection that is handed over reports its close: a try that failed closes its own, and the
     * zone's watch must not take that for the end of QEMU's QMP stream (it waits for that to read the SHUTDOWN
     * event's reason).
     */
    private static QmpClient attempt(Path socket, Duration timeout, Consumer<QmpEvent> listener, Runnable onClose)
            throws QmpException {
        AtomicBoolean handedOver = new AtomicBoolean();
        QmpClient c = QmpClient.connect(socket, timeout, listener, () -> {
            if (handedOver.get()) {
                onClose.run();
            }
        });
        handedOver.set(true);
        if (!c.isOpen()) {
            onClose.run(); // closed in between: the close was not passed on
        }
        return c;
    }

    C connect() throws QmpException {
        long start = nanoTime.getAsLong();
        Optional<ThreadSample> first = mainThread.sample();
        Optional<ThreadSample> before = first;
        int tries = 0;
        while (true) {
            tries++;
            QmpException failed;
            try {
                return connector.connect(slice);
            } catch (QmpException e) {
                failed = e;
            }
            Optional<ThreadSample> now = mainThread.sample();
            long waitedMs = (nanoTime.getAsLong() - start) / 1_000_000;
            if (now.isEmpty() || before.isEmpty()) {
                // Gone: the start attempt reports QEMU's exit in its own words.
                throw failed;
            }
            ThreadSample b = before.get();
            ThreadSample n = now.get();
            long usedMs = ticksToMs(n.cpuTicks() - first.get().cpuTicks());
            if (n.cpuTicks() == b.cpuTicks() && !n.busy()) {
                throw new QmpException("QEMU pid " + pid + " does not answer on QMP (" + waitedMs + " ms, " + tries
                        + (tries == 1 ? " try" : " tries") + ") while its main thread sits idle (no CPU in the last "
                        + slice.toMillis() + " ms, state " + n.state() + "): it is hung, or another client holds its"
                        + " one QMP connection; last: " + failed.getMessage(), failed);
            }
            if (waitedMs + slice.toMillis() > limit.toMillis()) {
                throw new QmpException("QEMU pid " + pid + " did not answer on QMP within " + waitedMs + " ms ("
                        + tries + " tries; the limit at start is " + limit.toSeconds() + " s) though its main thread"
                        + " kept working (" + usedMs + " ms of CPU meanwhile, state " + n.state() + "): the host is"
                        + " too loaded for QEMU to build its machine; last: " + failed.getMessage(), failed);
            }
            before = now;
        }
    }

    /** Clock ticks (USER_HZ, 100 on Linux) to milliseconds. */
    private static long ticksToMs(long ticks) {
        return ticks * ProcStat.MS_PER_TICK;
    }

    /** The main thread of {@code pid} (its thread id is the pid) from /proc; empty when the process is gone. */
    static Optional<ThreadSample> mainThreadOf(long pid) {
        try {
            return parseStat(Files.readString(Path.of("/proc/" + pid + "/task/" + pid + "/stat")));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** A {@code stat} line's state and CPU time ({@link ProcStat}); empty for an ended process. */
    static Optional<ThreadSample> parseStat(String stat) {
        return ProcStat.parse(stat).filter(p -> !p.ended()).map(p -> new ThreadSample(p.cpuTicks(), p.state()));
    }
}

package io.zonekeeper.kvm.qemu;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Notices the exit of QEMU processes that are not children of this JVM (guests adopted after an appliance restart)
 * with one thread for all of them. The JDK would park a thread per such process (it cannot wait for a non-child, so
 * each of its waiters sleeps and polls); here one thread checks every watched process a few times a second, and ends
 * when none is left, so that a replaced driver bundle leaves no thread behind.
 */
final class ProcessExits {
    static final ProcessExits SHARED = new ProcessExits("qemu-exits", 250);

    private final String threadName;
    private final long periodMillis;
    private final Map<ProcessHandle, CompletableFuture<ProcessHandle>> watched = new ConcurrentHashMap<>();
    private Thread thread;

    ProcessExits(String threadName, long periodMillis) {
        this.threadName = threadName;
        this.periodMillis = periodMillis;
    }

    /** Completes when {@code process} has ended; at once when it has already. */
    CompletableFuture<ProcessHandle> onExit(ProcessHandle process) {
        CompletableFuture<ProcessHandle> exit;
        synchronized (this) {
            exit = watched.computeIfAbsent(process, p -> new CompletableFuture<>());
            if (thread == null) {
                thread = new Thread(this::run, threadName);
                thread.setDaemon(true);
                thread.start();
            }
        }
        return exit;
    }

    /**
     * Stops watching {@code process}; its future never completes. A driver that lets go of a guest (an upgrade hands
     * it to the next driver bundle) calls this, so that its watcher thread ends with its last guest instead of
     * polling, with the old bundle's classes held, for as long as the guest runs.
     */
    void forget(ProcessHandle process) {
        watched.remove(process);
    }

    /** How many processes are watched now (for tests). */
    int watching() {
        return watched.size();
    }

    private void run() {
        while (true) {
            watched.forEach((p, exit) -> {
                if (!QemuProcess.running(p)) {
                    watched.remove(p);
                    exit.complete(p);
                }
            });
            synchronized (this) {
                if (watched.isEmpty()) {
                    thread = null;
                    return;
                }
            }
            try {
                Thread.sleep(periodMillis);
            } catch (InterruptedException e) {
                // Only this class starts the thread and nobody interrupts it; go on watching.
            }
        }
    }
}

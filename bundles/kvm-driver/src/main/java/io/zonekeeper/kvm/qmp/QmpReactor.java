package io.zonekeeper.kvm.qmp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The one thread that reads every QMP connection of this driver (a selector over all of them), instead of a
 * parked reader thread per zone. It starts with the first connection and ends about a second after the last one
 * closed, so a replaced driver bundle leaves no thread behind. Listener calls run on {@link #DELIVERIES}, a small
 * pool whose threads also end when idle.
 */
final class QmpReactor {
    static final QmpReactor SHARED = new QmpReactor();
    /** Runs listener calls; each connection chains its own, so one connection's calls never overlap. */
    static final ExecutorService DELIVERIES = deliveries();
    private static final long IDLE_SELECT_MS = 1000;

    /** What to do when a channel is readable: read it with the shared buffer; false ends the registration. */
    private record Registration(SocketChannel channel, Predicate<ByteBuffer> readable) {
    }

    private final Queue<Registration> incoming = new ArrayDeque<>();
    private Selector selector;
    private Thread thread;

    private QmpReactor() {
    }

    private static ExecutorService deliveries() {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(0, 4, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> {
                    Thread t = new Thread(r, "qmp-events");
                    t.setDaemon(true);
                    return t;
                });
        return pool;
    }

    /** Reads {@code channel} (non-blocking) on the shared thread until {@code readable} answers false. */
    void register(SocketChannel channel, Predicate<ByteBuffer> readable) throws IOException {
        synchronized (incoming) {
            if (thread == null) {
                selector = Selector.open();
                thread = new Thread(this::run, "qmp-reactor");
                thread.setDaemon(true);
                thread.start();
            }
            incoming.add(new Registration(channel, readable));
            selector.wakeup();
        }
    }

    /** Lets the reader release closed channels now rather than at its next idle wake-up. */
    void wakeup() {
        synchronized (incoming) {
            if (selector != null) {
                selector.wakeup();
            }
        }
    }

    private void run() {
        Selector sel;
        synchronized (incoming) {
            sel = selector;
        }
        ByteBuffer buf = ByteBuffer.allocate(8192);
        try {
            while (true) {
                synchronized (incoming) {
                    for (Registration r; (r = incoming.poll()) != null;) {
                        try {
                            r.channel.register(sel, SelectionKey.OP_READ, r);
                        } catch (IOException | CancelledKeyException e) {
                            // Closed before it was registered: there is nothing left to read.
                        }
                    }
                    if (sel.keys().isEmpty()) {
                        // Nothing to read: end, so that no thread outlives the driver; the next register starts one.
                        thread = null;
                        selector = null;
                        break;
                    }
                }
                sel.select(IDLE_SELECT_MS);
                for (SelectionKey key : sel.selectedKeys()) {
                    Registration r = (Registration) key.attachment();
                    boolean more;
                    try {
                        more = key.isValid() && r.readable.test(buf);
                    } catch (RuntimeException | StackOverflowError e) {
                        more = false; // one connection's failure must not stop the others' reader
                    }
                    if (!more) {
                        key.cancel();
                    }
                }
                // A key cancelled here (or by a close elsewhere) leaves the key set at the next select.
                sel.selectedKeys().clear();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the QMP reader failed", e);
        } finally {
            synchronized (incoming) {
                if (thread == Thread.currentThread()) {
                    thread = null;
                    selector = null;
                }
            }
            try {
                sel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}

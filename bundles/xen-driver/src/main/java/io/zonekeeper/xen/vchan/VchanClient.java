package io.zonekeeper.xen.vchan;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;

/**
 * dom0's end of one vchan: a libxenvchan client in non-blocking mode. One thread may wait for events
 * ({@link #awaitEvent}) while another writes; every library call holds the lock, and only the waiting thread takes
 * events from the event channel, so the two never steal each other's wake-ups: a writer whose ring is full waits
 * in {@link #awaitSpace}, which the event thread signals.
 */
public final class VchanClient implements AutoCloseable {

    /** The two native libraries, loaded once per class loader. */
    public static final class Natives {
        final Libxenvchan vchan;
        final Libc libc;

        Natives(Libxenvchan vchan, Libc libc) {
            this.vchan = vchan;
            this.libc = libc;
        }

        /** Loads libxenvchan (by its versioned name) and libc; throws UnsatisfiedLinkError when they are not there. */
        public static Natives load() {
            return new Natives(LibraryLoader.create(Libxenvchan.class).failImmediately().load(Libxenvchan.LIBRARY),
                    LibraryLoader.create(Libc.class).failImmediately().load("c"));
        }
    }

    private final Natives n;
    private final Pointer ctrl;
    private final int fd;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private boolean closed;
    /** Per-client counts for the keeper's session log: events taken, and writer waits that really waited. */
    long eventWakes;
    long writerWaits;

    VchanClient(Natives n, Pointer ctrl) {
        this.n = n;
        this.ctrl = ctrl;
        this.fd = n.vchan.libxenvchan_fd_for_select(ctrl);
    }

    /**
     * Connects to the vchan that {@code domid} serves at {@code xsPath} (its {@code ring-ref} and
     * {@code event-channel} must be there), or returns null when it cannot (no server yet, a stale one).
     */
    public static VchanClient connect(Natives n, int domid, String xsPath) {
        Pointer ctrl = n.vchan.libxenvchan_client_init(null, domid, xsPath);
        if (ctrl == null) {
            return null;
        }
        // client_init leaves the blocking bit as malloc found it; this client never blocks inside the library.
        byte flags = ctrl.getByte(Libxenvchan.FLAGS_OFFSET);
        ctrl.putByte(Libxenvchan.FLAGS_OFFSET, (byte) (flags & ~Libxenvchan.BLOCKING_BIT));
        return new VchanClient(n, ctrl);
    }

    /** Whether both sides are still open (data the server wrote before it closed can still be read). */
    public boolean isOpen() {
        lock.lock();
        try {
            return !closed && n.vchan.libxenvchan_is_open(ctrl) == 1;
        } finally {
            lock.unlock();
        }
    }

    /** Reads what is ready into {@code buf}: the count, 0 when nothing is, -1 when the vchan failed or is closed. */
    public int read(byte[] buf) {
        lock.lock();
        try {
            if (closed) {
                return -1;
            }
            return n.vchan.libxenvchan_read(ctrl, buf, buf.length);
        } finally {
            lock.unlock();
        }
    }

    /** Writes what fits of {@code data[off, off+len)}: the count, 0 when the ring is full, -1 when closed. */
    public int write(byte[] data, int off, int len) {
        byte[] part = off == 0 && len == data.length ? data : Arrays.copyOfRange(data, off, off + len);
        lock.lock();
        try {
            if (closed || n.vchan.libxenvchan_is_open(ctrl) != 1) {
                return -1;
            }
            return n.vchan.libxenvchan_write(ctrl, part, len);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code millis} for the other side to do something (write, read, close), takes the event and wakes
     * writers waiting in {@link #awaitSpace}. Only one thread may call this.
     */
    public void awaitEvent(int millis) {
        ByteBuffer pfd = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
        pfd.putInt(0, fd).putShort(4, Libc.POLLIN).putShort(6, (short) 0);
        byte[] raw = pfd.array();
        int r = n.libc.poll(raw, 1, millis);
        if (r <= 0) {
            return; // timeout, or EINTR: the caller looks again
        }
        lock.lock();
        try {
            if (!closed) {
                n.vchan.libxenvchan_wait(ctrl);
            }
            eventWakes++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code millis} for room in the ring: returns at once when there is room already or the vchan is
     * closed, else when the event thread takes the next event. The look at the ring and the wait are one step under
     * the lock the event thread signals under, so room made (and its event taken) between a writer's full write and
     * its wait is seen, not waited out (a lost wake-up costs the writer the whole wait, and with the zone's 1 KiB
     * ring a writer waits every kilobyte).
     */
    public void awaitSpace(long millis) throws InterruptedException {
        lock.lock();
        try {
            if (closed || n.vchan.libxenvchan_buffer_space(ctrl) > 0 || n.vchan.libxenvchan_is_open(ctrl) != 1) {
                return;
            }
            writerWaits++;
            changed.await(millis, TimeUnit.MILLISECONDS);
        } finally {
            lock.unlock();
        }
    }

    /** Closes dom0's end; the zone's end sees the vchan closed. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                n.vchan.libxenvchan_close(ctrl);
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }
}

package io.zonekeeper.xen.vchan;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;

/**
 * dom0's end of one vchan: a libxenvchan client in non-blocking mode, used by one thread only (the channel's pump,
 * which waits for the vchan's events and the host socket in one poll and moves the bytes both ways itself: no thread
 * hands a wait to another). Reads and writes go between the ring and native buffers, so no byte is copied through
 * the Java heap.
 */
public final class VchanClient implements AutoCloseable {

    /** The two native libraries, loaded once per class loader. */
    public static final class Natives {
        final Libxenvchan vchan;
        final Libc libc;
        private final jnr.ffi.Runtime runtime;

        Natives(Libxenvchan vchan, Libc libc) {
            this.vchan = vchan;
            this.libc = libc;
            this.runtime = libc != null ? jnr.ffi.Runtime.getRuntime(libc) : null;
        }

        /** Loads libxenvchan (by its versioned name) and libc; throws UnsatisfiedLinkError when they are not there. */
        public static Natives load() {
            return new Natives(LibraryLoader.create(Libxenvchan.class).failImmediately().load(Libxenvchan.LIBRARY),
                    loadLibc());
        }

        /** libc alone (the host sockets need no Xen). */
        static Libc loadLibc() {
            return LibraryLoader.create(Libc.class).failImmediately().load("c");
        }

        /** The errno that the calling thread's last libc call left. */
        int errno() {
            return runtime.getLastError();
        }
    }

    private final Natives n;
    private final Pointer ctrl;
    private final int fd;
    private boolean closed;

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

    /** The event channel's fd: readable when the other side wrote, read or closed (then {@link #takeEvent}). */
    int eventFd() {
        return fd;
    }

    /** Whether both sides are still open (data the server wrote before it closed can still be read). */
    public boolean isOpen() {
        return !closed && n.vchan.libxenvchan_is_open(ctrl) == 1;
    }

    /**
     * Reads what is ready, up to {@code len} bytes, into {@code buf} at {@code off}: the count, 0 when nothing is
     * (and the zone's next write will raise an event), -1 when the vchan failed or is closed and drained.
     */
    public int read(Pointer buf, long off, int len) {
        if (closed) {
            return -1;
        }
        return n.vchan.libxenvchan_read(ctrl, buf.slice(off), len);
    }

    /**
     * Writes what fits of {@code len} bytes at {@code buf + off}: the count, 0 when the ring is full (and the zone's
     * next read will raise an event), -1 when closed.
     */
    public int write(Pointer buf, long off, int len) {
        if (closed || n.vchan.libxenvchan_is_open(ctrl) != 1) {
            return -1;
        }
        return n.vchan.libxenvchan_write(ctrl, buf.slice(off), len);
    }

    /** Takes the pending event and unmasks the channel; only once {@link #eventFd} polled readable (else it blocks). */
    public void takeEvent() {
        if (!closed) {
            n.vchan.libxenvchan_wait(ctrl);
        }
    }

    /** Closes dom0's end; the zone's end sees the vchan closed. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            n.vchan.libxenvchan_close(ctrl);
        }
    }
}

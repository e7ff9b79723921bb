package io.zonekeeper.xen.vchan;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;

/**
 * The client half of libxenvchan (libxenvchan.so.4.17, package libxenmisc4.17), bound through jnr-ffi. Public only
 * because jnr-ffi generates the implementation in its own class loader.
 *
 * <p>A vchan is a pair of rings in pages the server grants, plus an event channel; its server advertises both in
 * xenstore under a path ({@code ring-ref}, {@code event-channel}). The client maps them ({@code /dev/xen/gntdev})
 * and binds the event channel ({@code /dev/xen/evtchn}). Calls on one control structure must not run at once.
 */
public interface Libxenvchan {
    /** Where Debian's libxenmisc4.17 installs the library (no unversioned .so without the -dev package). */
    String LIBRARY = "libxenvchan.so.4.17";

    /**
     * Byte offset, in {@code struct libxenvchan}, of the int holding the flag bits {@code is_server:1},
     * {@code server_persist:1}, {@code blocking:1}: after three pointers and the uint32 event port.
     */
    int FLAGS_OFFSET = 28;
    /** The {@code blocking} bit of the flags (bit fields fill an int from its lowest bit on x86-64). */
    int BLOCKING_BIT = 1 << 2;

    /** Connects to the vchan that domain {@code domain} serves at {@code xsPath}; null when it cannot. */
    @SaveError
    Pointer libxenvchan_client_init(Pointer logger, int domain, String xsPath);

    void libxenvchan_close(Pointer ctrl);

    /** Reads what is there, up to {@code size}; -1 on error, 0 when nothing is (non-blocking). */
    int libxenvchan_read(Pointer ctrl, Pointer data, long size);

    /** Writes what fits, up to {@code size}; -1 on error, 0 when the ring is full (non-blocking). */
    int libxenvchan_write(Pointer ctrl, Pointer data, long size);

    /** Takes the pending event (the fd was readable) and unmasks the channel; -1 on error. */
    int libxenvchan_wait(Pointer ctrl);

    /** The event channel's fd: readable when the other side wrote, read, or closed. */
    int libxenvchan_fd_for_select(Pointer ctrl);

    /** 1 while both sides are open, 0 once one side closed (2 for a server without a client). */
    int libxenvchan_is_open(Pointer ctrl);

    int libxenvchan_data_ready(Pointer ctrl);

    int libxenvchan_buffer_space(Pointer ctrl);
}

package io.zonekeeper.xen.vchan;

import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/** The one libc call the channel keeper needs: poll(2), to wait on a vchan's event fd without taking the event. */
public interface Libc {
    short POLLIN = 0x1;
    int EINTR = 4;

    /** {@code fds} holds {@code struct pollfd} entries of 8 bytes: int fd, short events, short revents. */
    @SaveError
    int poll(@In @Out byte[] fds, long nfds, int timeoutMillis);
}

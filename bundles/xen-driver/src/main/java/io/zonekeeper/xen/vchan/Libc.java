package io.zonekeeper.xen.vchan;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * The libc calls of the channel keeper's pump: poll(2) over a vchan's event fd and a host socket together, the host's
 * Unix sockets themselves (so that their fds can be polled with the event fd, which no Java selector can), an eventfd
 * that tells a zone's threads to end, and malloc/free for the pump's bounded buffers. Public only because jnr-ffi
 * generates the implementation in its own class loader.
 */
public interface Libc {
    short POLLIN = 0x1;
    short POLLOUT = 0x4;
    short POLLERR = 0x8;
    short POLLHUP = 0x10;
    short POLLNVAL = 0x20;
    int EINTR = 4;
    int EAGAIN = 11;
    int AF_UNIX = 1;
    int SOCK_STREAM = 1;
    int SOCK_NONBLOCK = 0x800;
    int SOCK_CLOEXEC = 0x80000;
    int EFD_NONBLOCK = 0x800;
    int EFD_CLOEXEC = 0x80000;
    /** send(2) flag: no SIGPIPE when the host has gone; EPIPE instead. */
    int MSG_NOSIGNAL = 0x4000;
    /** recv(2)/send(2) flag: this call does not block, whatever the socket's mode. */
    int MSG_DONTWAIT = 0x40;

    /** {@code fds} holds {@code struct pollfd} entries of 8 bytes: int fd, short events, short revents. */
    @SaveError
    int poll(@In @Out byte[] fds, long nfds, int timeoutMillis);

    @SaveError
    int socket(int domain, int type, int protocol);

    /** {@code addr} is a {@code struct sockaddr_un}: the family (2 bytes, native order), then the path. */
    @SaveError
    int bind(int fd, @In byte[] addr, int len);

    @SaveError
    int listen(int fd, int backlog);

    @SaveError
    int accept4(int fd, Pointer addr, Pointer len, int flags);

    @SaveError
    int connect(int fd, @In byte[] addr, int len);

    @SaveError
    long recv(int fd, Pointer buf, long len, int flags);

    @SaveError
    long send(int fd, Pointer buf, long len, int flags);

    @SaveError
    int close(int fd);

    @SaveError
    int eventfd(int initval, int flags);

    @SaveError
    long write(int fd, @In byte[] buf, long len);

    Pointer malloc(long size);

    void free(Pointer p);

    String strerror(int errnum);
}

package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The host's Unix sockets of the channel keeper as plain fds (libc through jnr-ffi), so that a channel's pump can
 * wait for its host socket and its vchan's event fd in one poll(2). Every socket is non-blocking and close-on-exec;
 * sends never raise SIGPIPE.
 */
final class HostFds {
    /** Longest path in a {@code struct sockaddr_un} (108 bytes with the terminating zero). */
    static final int MAX_PATH = 107;

    private final VchanClient.Natives n;

    HostFds(VchanClient.Natives n) {
        this.n = n;
    }

    Libc libc() {
        return n.libc;
    }

    int errno() {
        return n.errno();
    }

    private IOException failure(String what) {
        int e = n.errno();
        return new IOException(what + ": " + n.libc.strerror(e) + " (errno " + e + ")");
    }

    private static byte[] address(Path socket) throws IOException {
        byte[] p = socket.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length > MAX_PATH) {
            throw new IOException("socket path " + socket + " is " + p.length + " bytes, more than " + MAX_PATH);
        }
        ByteBuffer a = ByteBuffer.allocate(2 + p.length + 1).order(ByteOrder.nativeOrder());
        a.putShort((short) Libc.AF_UNIX).put(p).put((byte) 0);
        return a.array();
    }

    private int newSocket() throws IOException {
        int fd = n.libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw failure("socket");
        }
        return fd;
    }

    /** A socket listening at {@code socket} (which must not exist). */
    int listen(Path socket) throws IOException {
        byte[] a = address(socket);
        int fd = newSocket();
        if (n.libc.bind(fd, a, a.length) != 0) {
            IOException e = failure("bind " + socket);
            n.libc.close(fd);
            throw e;
        }
        if (n.libc.listen(fd, 16) != 0) {
            IOException e = failure("listen " + socket);
            n.libc.close(fd);
            throw e;
        }
        return fd;
    }

    /** The next connection on listening socket {@code fd}, or -1 when none is waiting (or it went away at once). */
    int accept(int fd) {
        return n.libc.accept4(fd, null, null, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
    }

    /** A socket connected to {@code socket}, or -1 when nothing listens there (or its backlog is full). */
    int connect(Path socket) throws IOException {
        byte[] a = address(socket);
        int fd = newSocket();
        if (n.libc.connect(fd, a, a.length) != 0) {
            n.libc.close(fd);
            return -1;
        }
        return fd;
    }

    /** An eventfd that, once {@link #signal}led, stays readable: the "end now" of a zone's channel threads. */
    int eventfd() throws IOException {
        int fd = n.libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (fd < 0) {
            throw failure("eventfd");
        }
        return fd;
    }

    void signal(int eventfd) {
        byte[] one = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, 1).array();
        n.libc.write(eventfd, one, 8);
    }

    void close(int fd) {
        if (fd >= 0) {
            n.libc.close(fd);
        }
    }

    /**
     * Polls fds {@code fd[i]} for {@code events[i]} (a negative fd is skipped) up to {@code millis} (-1: without
     * limit); fills {@code revents} and returns how many have any, 0 on a timeout or an interrupted wait, -1 when
     * poll failed otherwise.
     */
    int poll(int[] fd, short[] events, short[] revents, int millis) {
        ByteBuffer b = ByteBuffer.allocate(8 * fd.length).order(ByteOrder.nativeOrder());
        for (int i = 0; i < fd.length; i++) {
            b.putInt(8 * i, fd[i]).putShort(8 * i + 4, events[i]).putShort(8 * i + 6, (short) 0);
        }
        byte[] raw = b.array();
        int r = n.libc.poll(raw, fd.length, millis);
        if (r < 0) {
            return n.errno() == Libc.EINTR ? 0 : -1;
        }
        ByteBuffer back = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
        for (int i = 0; i < fd.length; i++) {
            revents[i] = back.getShort(8 * i + 6);
        }
        return r;
    }

    /** Waits up to {@code millis} for {@code eventfd} to be signalled; whether it was. */
    boolean awaitSignal(int eventfd, int millis) {
        short[] rev = new short[1];
        return poll(new int[] {eventfd}, new short[] {Libc.POLLIN}, rev, millis) > 0 && (rev[0] & Libc.POLLIN) != 0;
    }
}

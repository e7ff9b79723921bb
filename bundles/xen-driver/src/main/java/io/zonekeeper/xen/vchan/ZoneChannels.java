package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import jnr.ffi.Pointer;

import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;

/**
 * One zone's channels inside the {@link ChannelKeeper}: each is a Unix socket on the host and a vchan in the zone. A
 * host program that connects starts a session; the keeper waits for the zone to serve the vchan ({@code zk-channel
 * NAME} in the guest runs Xen's vchan-socket-proxy as its server, granting the ring pages), connects to it with
 * libxenvchan and copies bytes both ways until either side closes. One session at a time per channel, like a QEMU
 * chardev. For a zone-to-zone channel the socket is the rendezvous zone-core's broker arranged: the first zone's
 * channel listens there, the second's connects (and reconnects), so the bytes go zone, dom0, zone.
 *
 * <p>One thread per channel does everything for it: waits for the host (accept, or connect), for the zone's vchan,
 * and then {@link #pump pumps} the session. Each thread also waits on the zone's wake fd, which {@link #close}
 * signals, so it ends at once; the last holder of that fd closes it.
 */
final class ZoneChannels {
    private static final Duration POLL = Duration.ofMillis(250);
    /** How long guest-to-host bytes still flow after the host closed its end (a half-close cannot be passed on). */
    static final Duration LINGER = Duration.ofSeconds(1);
    /**
     * Each direction's buffer in a session, in native memory: all the keeper holds of a session's bytes, whatever
     * either side sends (the zone's rings are 1-2 KiB; a side that stops taking bytes stops the other's).
     */
    static final int BUFFER = 16384;

    private final KeeperConfig config;
    private final VchanClient.Natives natives;
    private final HostFds fds;
    private final AtomicBoolean ending = new AtomicBoolean();
    /** Each listening socket's file and its identity when bound, so that only our own file is removed. */
    private final Map<Path, Object> bound = new ConcurrentHashMap<>();
    /** Readable once {@link #close} began: every thread of this zone polls it. */
    private int wake = -1;
    /** The wake fd's holders: this object until {@link #close}, and each channel thread until it ends. */
    private final AtomicInteger holders = new AtomicInteger(1);

    ZoneChannels(KeeperConfig config, VchanClient.Natives natives) {
        this.config = config;
        this.natives = natives;
        this.fds = new HostFds(natives);
    }

    KeeperConfig config() {
        return config;
    }

    private void log(String s) {
        ChannelKeeper.log("zone " + config.zone() + ", domain " + config.domid() + ": " + s);
    }

    /** Binds the listening sockets, then starts one thread per channel. */
    void open() throws IOException {
        wake = fds.eventfd();
        List<Integer> listening = new ArrayList<>();
        try {
            for (KeeperConfig.Channel c : config.channels()) {
                if (c.listens()) {
                    Files.createDirectories(c.socket().getParent());
                    Files.deleteIfExists(c.socket()); // a stale socket of an earlier keeper of this zone
                    int fd = fds.listen(c.socket());
                    listening.add(fd);
                    Files.setPosixFilePermissions(c.socket(), PosixFilePermissions.fromString("rw-rw----"));
                    bound.put(c.socket(), fileKey(c.socket()));
                } else {
                    listening.add(-1);
                }
            }
        } catch (IOException | RuntimeException e) {
            listening.forEach(fds::close);
            throw e;
        }
        for (int i = 0; i < config.channels().size(); i++) {
            KeeperConfig.Channel c = config.channels().get(i);
            String path = config.xsBase() + "/" + i;
            int listenFd = listening.get(i);
            holders.incrementAndGet();
            Thread t = new Thread(() -> serve(c, path, listenFd), "channel-" + config.domid() + "-" + c.name());
            t.setDaemon(true);
            t.start();
        }
    }

    private void release() {
        if (holders.decrementAndGet() == 0) {
            fds.close(wake);
        }
    }

    private void serve(KeeperConfig.Channel c, String path, int listenFd) {
        try {
            while (!ending.get()) {
                try {
                    serveOnce(c, path, listenFd);
                } catch (RuntimeException e) {
                    log(c.name() + ": " + e);
                    fds.awaitSignal(wake, (int) POLL.toMillis());
                }
            }
        } finally {
            fds.close(listenFd);
            release();
        }
    }

    /** Waits for the host and the zone, then pumps their session; returns when it ended or the wait gave up. */
    private void serveOnce(KeeperConfig.Channel c, String path, int listenFd) {
        int host = listenFd >= 0 ? accept(listenFd) : connect(c.socket());
        if (host < 0) {
            return;
        }
        try {
            log(c.name() + ": host side connected; waiting for the zone to serve " + path);
            VchanClient v = awaitZone(path);
            if (v == null) {
                return;
            }
            log(c.name() + ": session open");
            Session s = new Session();
            try {
                pump(fds, host, v, wake, ending::get, s);
            } finally {
                v.close();
            }
            log(c.name() + ": session closed (" + s + ")");
        } finally {
            fds.close(host);
        }
    }

    /** The next host connection on the channel's listening socket; -1 when the zone's channels end first. */
    private int accept(int listenFd) {
        short[] rev = new short[2];
        int r = fds.poll(new int[] {listenFd, wake}, new short[] {Libc.POLLIN, Libc.POLLIN}, rev, -1);
        if (r < 0) {
            try {
                Thread.sleep(POLL.toMillis()); // poll itself failed: not a busy loop
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return -1;
        }
        if (r == 0 || (rev[1] & Libc.POLLIN) != 0) {
            return -1;
        }
        int host = fds.accept(listenFd);
        if (host < 0 && fds.errno() != Libc.EAGAIN && fds.errno() != Libc.EINTR) {
            fds.awaitSignal(wake, 1000); // out of fds, say: not a busy loop
        }
        return host;
    }

    /** The second zone's side of a zone-to-zone channel: connects to the rendezvous, retrying while it is not there. */
    private int connect(Path socket) {
        int fd;
        try {
            fd = fds.connect(socket);
        } catch (IOException e) {
            log(e.getMessage());
            fd = -1;
        }
        if (fd < 0) {
            fds.awaitSignal(wake, 1000);
        }
        return fd;
    }

    /** Waits for the zone's vchan server at {@code path} and connects to it; null when the keeper ends first. */
    private VchanClient awaitZone(String path) {
        XenstoreClient xs = null;
        try {
            while (!ending.get()) {
                try {
                    if (xs == null || !xs.isOpen()) {
                        xs = XenstoreClient.connect(config.xenstore(), Duration.ofSeconds(5), null);
                    }
                    if (xs.exists(path + "/ring-ref") && xs.exists(path + "/event-channel")) {
                        VchanClient v = VchanClient.connect(natives, config.domid(), path);
                        if (v != null) {
                            return v;
                        }
                    }
                } catch (XenstoreException e) {
                    if (xs != null) {
                        xs.close();
                        xs = null;
                    }
                }
                fds.awaitSignal(wake, (int) POLL.toMillis());
            }
            return null;
        } finally {
            if (xs != null) {
                xs.close();
            }
        }
    }

    /** What one session moved and how often its thread woke, for the keeper's log. */
    static final class Session {
        long toZone;
        long toHost;
        /** Waits in poll: each is one wake-up of the session's (only) thread. */
        long waits;
        /** Events taken from the vchan (the zone read or wrote). */
        long events;

        @Override
        public String toString() {
            return "to zone " + toZone + " bytes, to host " + toHost + " bytes; " + waits + " waits, " + events
                    + " vchan events, one thread";
        }
    }

    private static boolean again(HostFds fds) {
        int e = fds.errno();
        return e == Libc.EAGAIN || e == Libc.EINTR;
    }

    /**
     * Copies bytes both ways until either side closes, in the calling thread alone: moves whatever the host socket,
     * the ring and the two bounded buffers allow, and when nothing moves waits in one poll for the vchan's event fd,
     * the host socket (readable while there is room for its bytes, writable while the zone's wait for it) and the
     * wake fd. Every non-blocking vchan call that could not do all it was asked asks the zone for an event (the
     * library does), so a wait after a round in which nothing moved is never a lost wake-up.
     *
     * <p>Ends when the zone closed and everything it wrote before has been passed on, when the host closed and its
     * bytes are in the ring ({@link #LINGER} later: zone-to-host bytes still flow meanwhile), when the host went away
     * (a failed send), or when {@code ending} (the wake fd is signalled then).
     */
    static void pump(HostFds fds, int host, VchanClient v, int wake, BooleanSupplier ending, Session s) {
        Libc libc = fds.libc();
        Pointer up = libc.malloc(BUFFER);
        Pointer down = libc.malloc(BUFFER);
        try {
            if (up == null || down == null) {
                return;
            }
            int upStart = 0; // host bytes not yet in the ring: [upStart, upEnd)
            int upEnd = 0;
            int downStart = 0; // zone bytes not yet sent to the host: [downStart, downEnd)
            int downEnd = 0;
            boolean hostDone = false; // no more host bytes: the host closed, or the zone cannot take any
            boolean zoneClosed = false; // a write found the vchan closed: only what is left in the ring comes
            boolean zoneDone = false; // the zone closed and its ring is drained
            long lingerUntil = Long.MAX_VALUE;
            int[] fd = new int[3];
            short[] ev = new short[3];
            short[] rev = new short[3];
            while (!ending.getAsBoolean()) {
                boolean moved = false;
                if (!hostDone && upEnd < BUFFER) {
                    long r = libc.recv(host, up.slice(upEnd), BUFFER - upEnd, Libc.MSG_DONTWAIT);
                    if (r > 0) {
                        upEnd += (int) r;
                        moved = true;
                    } else if (r == 0 || !again(fds)) {
                        hostDone = true;
                    }
                }
                if (upEnd > upStart) {
                    int w = v.write(up, upStart, upEnd - upStart);
                    if (w < 0) {
                        zoneClosed = true;
                        hostDone = true;
                        upStart = upEnd = 0;
                    } else if (w > 0) {
                        upStart += w;
                        s.toZone += w;
                        moved = true;
                        if (upStart == upEnd) {
                            upStart = upEnd = 0;
                        }
                    }
                }
                if (!zoneDone && downEnd < BUFFER) {
                    int r = v.read(down, downEnd, BUFFER - downEnd);
                    if (r > 0) {
                        downEnd += r;
                        moved = true;
                    } else if (r < 0) {
                        zoneDone = true;
                    }
                }
                if (downEnd > downStart) {
                    long w = libc.send(host, down.slice(downStart), downEnd - downStart,
                            Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                    if (w > 0) {
                        downStart += (int) w;
                        s.toHost += w;
                        moved = true;
                        if (downStart == downEnd) {
                            downStart = downEnd = 0;
                        }
                    } else if (!again(fds)) {
                        return; // the host went away
                    }
                }
                if (zoneDone && downEnd == downStart) {
                    return; // everything the zone wrote before it closed has been passed on
                }
                if (hostDone && !zoneClosed && upEnd == upStart && lingerUntil == Long.MAX_VALUE) {
                    lingerUntil = System.nanoTime() + LINGER.toNanos();
                }
                long left = lingerUntil - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                if (moved) {
                    continue;
                }
                boolean wantIn = !hostDone && upEnd < BUFFER;
                boolean wantOut = downEnd > downStart;
                fd[0] = zoneDone ? -1 : v.eventFd();
                ev[0] = Libc.POLLIN;
                fd[1] = wantIn || wantOut ? host : -1;
                ev[1] = (short) ((wantIn ? Libc.POLLIN : 0) | (wantOut ? Libc.POLLOUT : 0));
                fd[2] = wake;
                ev[2] = Libc.POLLIN;
                int millis = lingerUntil == Long.MAX_VALUE ? -1 : (int) Math.max(1, left / 1_000_000);
                s.waits++;
                if (fds.poll(fd, ev, rev, millis) < 0 || (rev[0] & (Libc.POLLERR | Libc.POLLNVAL)) != 0
                        || (rev[1] & Libc.POLLNVAL) != 0) {
                    return;
                }
                if ((rev[0] & Libc.POLLIN) != 0) {
                    v.takeEvent();
                    s.events++;
                }
            }
        } finally {
            if (up != null) {
                libc.free(up);
            }
            if (down != null) {
                libc.free(down);
            }
        }
    }

    /**
     * Ends the zone's channels: signals every thread of the zone to end (each closes its sockets and its vchan) and
     * removes the listening sockets' files, which mean nothing any more. A socket file that is no longer the one bound
     * here (bound again for the zone's next domain, or by the listening side's next keeper) is left alone.
     * Idempotent.
     */
    void close() {
        if (!ending.compareAndSet(false, true)) {
            return;
        }
        if (wake >= 0) {
            fds.signal(wake);
        }
        for (Map.Entry<Path, Object> b : bound.entrySet()) {
            try {
                if (b.getValue().equals(fileKey(b.getKey()))) {
                    Files.deleteIfExists(b.getKey());
                }
            } catch (IOException ignored) {
                // gone already, or not ours
            }
        }
        release();
    }

    private static Object fileKey(Path p) throws IOException {
        Object k = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        return k != null ? k : Files.getLastModifiedTime(p);
    }
}

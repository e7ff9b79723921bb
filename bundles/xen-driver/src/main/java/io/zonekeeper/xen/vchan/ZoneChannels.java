package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;

/**
 * One zone's channels inside the {@link ChannelKeeper}: each is a Unix socket on the host and a vchan in the zone. A
 * host program that connects starts a session; the keeper waits for the zone to serve the vchan ({@code zk-channel
 * NAME} in the guest runs Xen's vchan-socket-proxy as its server, granting the ring pages), connects to it with
 * libxenvchan and copies bytes both ways until either side closes. One session at a time per channel, like a QEMU
 * chardev. For a zone-to-zone channel the socket is the rendezvous zone-core's broker arranged: the first zone's
 * channel listens there, the second's connects (and reconnects), so the bytes go zone, dom0, zone.
 */
final class ZoneChannels {
    private static final Duration POLL = Duration.ofMillis(250);
    /** How long guest-to-host bytes still flow after the host closed its end (a half-close cannot be passed on). */
    private static final Duration LINGER = Duration.ofSeconds(1);

    private final KeeperConfig config;
    private final VchanClient.Natives natives;
    private final AtomicBoolean ending = new AtomicBoolean();
    private final List<ServerSocketChannel> listening = new ArrayList<>();
    /** Each listening socket's file and its identity when bound, so that only our own file is removed. */
    private final Map<Path, Object> bound = new ConcurrentHashMap<>();
    /** The host ends of open sessions, closed when the zone's channels end. */
    private final Set<SocketChannel> sessions = ConcurrentHashMap.newKeySet();

    ZoneChannels(KeeperConfig config, VchanClient.Natives natives) {
        this.config = config;
        this.natives = natives;
    }

    KeeperConfig config() {
        return config;
    }

    private void log(String s) {
        ChannelKeeper.log("zone " + config.zone() + ", domain " + config.domid() + ": " + s);
    }

    /** Binds the listening sockets, then starts one thread per channel. */
    void open() throws IOException {
        List<ServerSocketChannel> servers = new ArrayList<>();
        for (KeeperConfig.Channel c : config.channels()) {
            if (c.listens()) {
                Files.createDirectories(c.socket().getParent());
                Files.deleteIfExists(c.socket()); // a stale socket of an earlier keeper of this zone
                ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                s.bind(UnixDomainSocketAddress.of(c.socket()));
                Files.setPosixFilePermissions(c.socket(), PosixFilePermissions.fromString("rw-rw----"));
                bound.put(c.socket(), fileKey(c.socket()));
                servers.add(s);
                listening.add(s);
            } else {
                servers.add(null);
            }
        }
        for (int i = 0; i < config.channels().size(); i++) {
            KeeperConfig.Channel c = config.channels().get(i);
            String path = config.xsBase() + "/" + i;
            ServerSocketChannel s = servers.get(i);
            Thread t = new Thread(() -> serve(c, path, s), "channel-" + config.domid() + "-" + c.name());
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(KeeperConfig.Channel c, String path, ServerSocketChannel server) {
        while (!ending.get()) {
            try (SocketChannel host = server != null ? server.accept() : connect(c.socket())) {
                if (host == null) {
                    continue;
                }
                sessions.add(host);
                if (ending.get()) {
                    break;
                }
                log(c.name() + ": host side connected; waiting for the zone to serve " + path);
                VchanClient v = awaitZone(path, host);
                if (v == null) {
                    continue;
                }
                log(c.name() + ": session open");
                long[] bytes = new long[2];
                try {
                    pump(host, v, bytes);
                } finally {
                    v.close();
                }
                log(c.name() + ": session closed (to zone " + bytes[0] + " bytes, " + v.writerWaits
                        + " writer waits; to host " + bytes[1] + " bytes; " + v.eventWakes + " event wake-ups)");
                sessions.remove(host);
            } catch (IOException e) {
                if (!ending.get()) {
                    log(c.name() + ": " + e);
                    sleep(POLL);
                }
            }
        }
    }

    /** The second zone's side of a zone-to-zone channel: connects to the rendezvous, retrying while it is not there. */
    private SocketChannel connect(Path socket) {
        try {
            SocketChannel s = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                s.connect(UnixDomainSocketAddress.of(socket));
                return s;
            } catch (IOException e) {
                s.close();
            }
        } catch (IOException e) {
            // retried below
        }
        sleep(Duration.ofSeconds(1));
        return null;
    }

    /** Waits for the zone's vchan server at {@code path} and connects to it; null when the keeper ends first. */
    private VchanClient awaitZone(String path, SocketChannel host) {
        XenstoreClient xs = null;
        try {
            while (!ending.get() && host.isOpen()) {
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
                sleep(POLL);
            }
            return null;
        } finally {
            if (xs != null) {
                xs.close();
            }
        }
    }

    /**
     * Copies bytes both ways until either side closes: host to zone in a helper thread, zone to host here (the only
     * thread that takes the vchan's events).
     */
    static void pump(SocketChannel host, VchanClient v, long[] bytes) {
        AtomicBoolean hostDone = new AtomicBoolean();
        Thread up = new Thread(() -> {
            ByteBuffer bb = ByteBuffer.allocate(8192);
            try {
                while (true) {
                    bb.clear();
                    int n = host.read(bb);
                    if (n < 0) {
                        break;
                    }
                    byte[] data = bb.array();
                    int off = 0;
                    while (off < n) {
                        int w = v.write(data, off, n - off);
                        if (w < 0) {
                            return;
                        }
                        off += w;
                        bytes[0] += w;
                        if (off < n) {
                            v.awaitSpace(500); // the ring is full: the zone has not read yet
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the session ends
            } finally {
                hostDone.set(true);
            }
        }, "to-zone");
        up.setDaemon(true);
        up.start();
        byte[] buf = new byte[8192];
        long lingerUntil = Long.MAX_VALUE;
        try {
            while (true) {
                int n = v.read(buf);
                if (n > 0) {
                    bytes[1] += n;
                    ByteBuffer out = ByteBuffer.wrap(buf, 0, n);
                    while (out.hasRemaining()) {
                        host.write(out);
                    }
                    continue;
                }
                if (n < 0 || !v.isOpen()) {
                    break; // everything the zone wrote before it closed has been passed on
                }
                if (hostDone.get()) {
                    if (!up.isAlive() && lingerUntil == Long.MAX_VALUE) {
                        lingerUntil = System.nanoTime() + LINGER.toNanos();
                    }
                    if (System.nanoTime() > lingerUntil) {
                        break;
                    }
                }
                v.awaitEvent(200);
            }
        } catch (IOException e) {
            // the host went away
        } finally {
            try {
                host.close(); // ends the helper's read
            } catch (IOException ignored) {
                // closing
            }
            try {
                up.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Ends the zone's channels: closes open sessions and the listening sockets and removes their files, which mean
     * nothing any more. A socket file that is no longer the one bound here (bound again for the zone's next domain,
     * or by the listening side's next keeper) is left alone.
     */
    void close() {
        ending.set(true);
        for (SocketChannel h : sessions) {
            try {
                h.close();
            } catch (IOException ignored) {
                // ending anyway
            }
        }
        for (ServerSocketChannel s : listening) {
            try {
                s.close();
            } catch (IOException ignored) {
                // ending anyway
            }
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
    }

    private static Object fileKey(Path p) throws IOException {
        Object k = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        return k != null ? k : Files.getLastModifiedTime(p);
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

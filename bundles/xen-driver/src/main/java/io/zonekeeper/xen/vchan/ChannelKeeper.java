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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;

/**
 * dom0's side of a Xen zone's channels: a small process of its own per zone (started by the driver from this
 * bundle's classes, like QEMU holds a KVM zone's channel sockets), so that channels outlive a driver upgrade and an
 * appliance restart. It ends by itself when the zone's domain is gone.
 *
 * <p>Each channel is a Unix socket on the host and a vchan in the zone: a host program that connects starts a
 * session; the keeper waits for the zone to serve the vchan ({@code zk-channel NAME} in the guest runs Xen's
 * vchan-socket-proxy as its server, granting the ring pages), connects to it with libxenvchan and copies bytes both
 * ways until either side closes. One session at a time per channel, like a QEMU chardev. For a zone-to-zone channel
 * the socket is the rendezvous zone-core's broker arranged: the first zone's keeper listens there, the second's
 * connects (and reconnects), so the bytes go zone, dom0, zone.
 *
 * <p>Usage: {@code ChannelKeeper CONFIG PIDFILE}, see {@link KeeperConfig}.
 */
public final class ChannelKeeper {
    /** The main class's name, which the driver also looks for in a keeper's command line. */
    public static final String MAIN = ChannelKeeper.class.getName();
    private static final Duration POLL = Duration.ofMillis(250);
    /** How long guest-to-host bytes still flow after the host closed its end (a half-close cannot be passed on). */
    private static final Duration LINGER = Duration.ofSeconds(1);

    private final KeeperConfig config;
    private final VchanClient.Natives natives;
    private final AtomicBoolean ending = new AtomicBoolean();
    private final List<ServerSocketChannel> listening = new ArrayList<>();
    /** Each listening socket's file and its identity when bound, so that only our own file is removed. */
    private final java.util.Map<Path, Object> bound = new java.util.concurrent.ConcurrentHashMap<>();

    ChannelKeeper(KeeperConfig config, VchanClient.Natives natives) {
        this.config = config;
        this.natives = natives;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: " + MAIN + " CONFIG PIDFILE");
            System.exit(2);
        }
        KeeperConfig config = KeeperConfig.read(Path.of(args[0]));
        VchanClient.Natives natives = VchanClient.Natives.load();
        ChannelKeeper k = new ChannelKeeper(config, natives);
        Runtime.getRuntime().addShutdownHook(new Thread(k::removeSockets, "remove-sockets"));
        k.open();
        Path pidFile = Path.of(args[1]);
        Path tmp = pidFile.resolveSibling("." + pidFile.getFileName() + ".tmp");
        Files.writeString(tmp, ProcessHandle.current().pid() + "\n");
        Files.move(tmp, pidFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        log("serving " + config.channels().size() + " channel(s) of zone " + config.zone() + ", domain "
                + config.domid());
        k.untilTheDomainIsGone();
        log("domain " + config.domid() + " is gone; ending");
        System.exit(0);
    }

    static void log(String s) {
        System.out.println(Instant.now() + " " + s);
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
            Thread t = new Thread(() -> serve(c, path, s), "channel-" + c.name());
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
                log(c.name() + ": host side connected; waiting for the zone to serve " + path);
                VchanClient v = awaitZone(path, host);
                if (v == null) {
                    continue;
                }
                log(c.name() + ": session open");
                try {
                    pump(host, v);
                } finally {
                    v.close();
                }
                log(c.name() + ": session closed");
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
    static void pump(SocketChannel host, VchanClient v) {
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
                        if (off < n) {
                            v.awaitChange(500); // the ring is full: the zone has not read yet
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

    /** Returns once the zone's domain no longer exists (or is another domain now). */
    void untilTheDomainIsGone() throws InterruptedException {
        String domain = "/local/domain/" + config.domid();
        String vm = "/vm/" + config.zone();
        XenstoreClient xs = null;
        int unreachable = 0;
        while (true) {
            try {
                if (xs == null || !xs.isOpen()) {
                    xs = XenstoreClient.connect(config.xenstore(), Duration.ofSeconds(5), null);
                }
                Optional<String> v = xs.read(domain + "/vm");
                unreachable = 0;
                if (v.isEmpty() || !v.get().equals(vm)) {
                    ending.set(true);
                    xs.close();
                    return;
                }
            } catch (XenstoreException e) {
                if (xs != null) {
                    xs.close();
                    xs = null;
                }
                if (++unreachable == 30) {
                    log("xenstored does not answer (" + e.getMessage() + "); still waiting");
                }
            }
            Thread.sleep(2000);
        }
    }

    /**
     * Removes the sockets this keeper listens on: they mean nothing once it is gone. A socket file that is no longer
     * the one it bound (the next keeper of the zone bound its own there already) is left alone.
     */
    void removeSockets() {
        ending.set(true);
        for (ServerSocketChannel s : listening) {
            try {
                s.close();
            } catch (IOException ignored) {
                // ending anyway
            }
        }
        for (java.util.Map.Entry<Path, Object> b : bound.entrySet()) {
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

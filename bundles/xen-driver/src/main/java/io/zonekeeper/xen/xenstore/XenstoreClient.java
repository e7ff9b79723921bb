package io.zonekeeper.xen.xenstore;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A connection to xenstored over its Unix socket ({@code /run/xenstored/socket} in dom0). Requests may come from
 * any thread; one reader thread matches answers to requests by request id and hands watch events to the listener
 * given at connect time. Closing the connection drops its watches; xenstored keeps no state for it.
 */
public final class XenstoreClient implements AutoCloseable {
    public static final Path DEFAULT_SOCKET = Path.of("/run/xenstored/socket");

    /** A watch fired: {@code path} changed (or is the watched path itself, right after the watch was set). */
    public record WatchEvent(String path, String token) {
    }

    private final ByteChannel channel;
    private final Duration timeout;
    private final Consumer<WatchEvent> watches;
    private final Map<Integer, CompletableFuture<XsMessage>> pending = new ConcurrentHashMap<>();
    private final AtomicInteger nextReq = new AtomicInteger(1);
    private final Object writeLock = new Object();
    private final Thread reader;
    private volatile boolean closed;
    private volatile String failure;

    /** Speaks the protocol over {@code channel}, which must be blocking; package-visible for protocol tests. */
    XenstoreClient(ByteChannel channel, Duration timeout, Consumer<WatchEvent> watches, String name) {
        this.channel = channel;
        this.timeout = timeout;
        this.watches = watches == null ? e -> { } : watches;
        this.reader = new Thread(this::readLoop, "xenstore " + name);
        this.reader.setDaemon(true);
        this.reader.start();
    }

    /** Connects to xenstored; {@code watches} receives every watch event (on the reader thread: keep it short). */
    public static XenstoreClient connect(Path socket, Duration timeout, Consumer<WatchEvent> watches)
            throws XenstoreException {
        try {
            SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
            return new XenstoreClient(ch, timeout, watches, socket.toString());
        } catch (IOException e) {
            throw new XenstoreException("cannot connect to xenstored at " + socket + ": " + e.getMessage()
                    + " (is xenstored running in this domain?)", e);
        }
    }

    /** The value at {@code path}, or empty when there is no such node. */
    public Optional<String> read(String path) throws XenstoreException {
        try {
            return Optional.of(call(XsMessage.request(XsMessage.READ, 0, 0, path)).text());
        } catch (XenstoreException e) {
            if ("ENOENT".equals(e.errno())) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /** Writes {@code value} at {@code path}, creating the node and any missing parents. */
    public void write(String path, String value) throws XenstoreException {
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        call(XsMessage.write(0, 0, path, v));
    }

    /** The names of the children of {@code path}; empty when it has none or does not exist. */
    public List<String> directory(String path) throws XenstoreException {
        try {
            return call(XsMessage.request(XsMessage.DIRECTORY, 0, 0, path)).strings();
        } catch (XenstoreException e) {
            if ("ENOENT".equals(e.errno())) {
                return List.of();
            }
            throw e;
        }
    }

    public boolean exists(String path) throws XenstoreException {
        try {
            call(XsMessage.request(XsMessage.GET_PERMS, 0, 0, path));
            return true;
        } catch (XenstoreException e) {
            if ("ENOENT".equals(e.errno())) {
                return false;
            }
            throw e;
        }
    }

    public void mkdir(String path) throws XenstoreException {
        call(XsMessage.request(XsMessage.MKDIR, 0, 0, path));
    }

    /** Removes {@code path} and everything under it; a missing node is no error. */
    public void rm(String path) throws XenstoreException {
        try {
            call(XsMessage.request(XsMessage.RM, 0, 0, path));
        } catch (XenstoreException e) {
            if (!"ENOENT".equals(e.errno())) {
                throw e;
            }
        }
    }

    /**
     * Sets the permissions of {@code path}: the first entry names the owner and what everyone else may do, such
     * as {@code n0} (owned by dom0, no access for others); later entries grant a domain access ({@code r5}).
     */
    public void setPerms(String path, String... perms) throws XenstoreException {
        String[] parts = new String[perms.length + 1];
        parts[0] = path;
        System.arraycopy(perms, 0, parts, 1, perms.length);
        call(XsMessage.request(XsMessage.SET_PERMS, 0, 0, parts));
    }

    public List<String> getPerms(String path) throws XenstoreException {
        return call(XsMessage.request(XsMessage.GET_PERMS, 0, 0, path)).strings();
    }

    /** The home path of a domain, {@code /local/domain/<domid>}. */
    public String domainPath(int domid) throws XenstoreException {
        return call(XsMessage.request(XsMessage.GET_DOMAIN_PATH, 0, 0, String.valueOf(domid))).text();
    }

    /**
     * Watches {@code path} and everything under it; special paths {@code @introduceDomain} and
     * {@code @releaseDomain} fire when a domain appears or dies. xenstored fires once right away.
     */
    public void watch(String path, String token) throws XenstoreException {
        call(XsMessage.request(XsMessage.WATCH, 0, 0, path, token));
    }

    public void unwatch(String path, String token) throws XenstoreException {
        call(XsMessage.request(XsMessage.UNWATCH, 0, 0, path, token));
    }

    public boolean isOpen() {
        return !closed;
    }

    /** Sends a request and waits for its answer; an ERROR answer becomes a {@link XenstoreException}. */
    XsMessage call(XsMessage request) throws XenstoreException {
        if (closed) {
            throw new XenstoreException("the xenstore connection is closed" + (failure == null ? "" : ": " + failure),
                    "EIO");
        }
        int req = nextReq.getAndUpdate(i -> i == Integer.MAX_VALUE ? 1 : i + 1);
        XsMessage m = new XsMessage(request.type(), req, request.txId(), request.payload());
        CompletableFuture<XsMessage> answer = new CompletableFuture<>();
        pending.put(req, answer);
        try {
            synchronized (writeLock) {
                ByteBuffer b = m.encode();
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            }
            XsMessage r = answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (r.type() == XsMessage.ERROR) {
                String errno = r.text();
                throw new XenstoreException("xenstore " + describe(request) + ": " + errno, errno);
            }
            if (r.type() != request.type()) {
                throw new XenstoreException("xenstore " + describe(request) + ": answered with type " + r.type(),
                        "EIO");
            }
            return r;
        } catch (IOException e) {
            close();
            throw new XenstoreException("xenstore " + describe(request) + ": " + e.getMessage(), e);
        } catch (TimeoutException e) {
            throw new XenstoreException("xenstore " + describe(request) + ": no answer within " + timeout, "ETIMEDOUT");
        } catch (ExecutionException e) {
            throw new XenstoreException("xenstore " + describe(request) + ": " + e.getCause().getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new XenstoreException("interrupted during xenstore " + describe(request), "EINTR");
        } finally {
            pending.remove(req);
        }
    }

    private static String describe(XsMessage request) {
        List<String> s = request.strings();
        String what = switch (request.type()) {
            case XsMessage.READ -> "read";
            case XsMessage.WRITE -> "write";
            case XsMessage.DIRECTORY -> "directory";
            case XsMessage.WATCH -> "watch";
            case XsMessage.UNWATCH -> "unwatch";
            case XsMessage.MKDIR -> "mkdir";
            case XsMessage.RM -> "rm";
            case XsMessage.SET_PERMS -> "set-perms";
            case XsMessage.GET_PERMS -> "get-perms";
            case XsMessage.GET_DOMAIN_PATH -> "get-domain-path";
            default -> "request type " + request.type();
        };
        return what + (s.isEmpty() ? "" : " " + s.get(0));
    }

    private void readLoop() {
        ByteBuffer in = ByteBuffer.allocate(2 * (XsMessage.HEADER + XsMessage.MAX_PAYLOAD));
        try {
            while (!closed) {
                int n = channel.read(in);
                if (n < 0) {
                    failure = "xenstored closed the connection";
                    break;
                }
                in.flip();
                XsMessage m;
                while ((m = XsMessage.decode(in)) != null) {
                    dispatch(m);
                }
                in.compact();
            }
        } catch (IOException | IllegalStateException e) {
            if (!closed) {
                failure = e.getMessage();
            }
        } finally {
            closed = true;
            closeChannel();
            XenstoreException gone = new XenstoreException("the xenstore connection ended"
                    + (failure == null ? "" : ": " + failure), "EIO");
            for (CompletableFuture<XsMessage> f : new ArrayList<>(pending.values())) {
                f.completeExceptionally(gone);
            }
        }
    }

    private void dispatch(XsMessage m) {
        if (m.type() == XsMessage.WATCH_EVENT) {
            List<String> s = m.strings();
            if (s.size() >= 2) {
                try {
                    watches.accept(new WatchEvent(s.get(0), s.get(1)));
                } catch (RuntimeException ignored) {
                    // a listener's bug must not end the connection
                }
            }
            return;
        }
        CompletableFuture<XsMessage> f = pending.get(m.reqId());
        if (f != null) {
            f.complete(m);
        }
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do about it
        }
    }

    @Override
    public void close() {
        closed = true;
        closeChannel();
    }
}

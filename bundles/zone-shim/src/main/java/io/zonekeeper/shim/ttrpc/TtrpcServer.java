package io.zonekeeper.shim.ttrpc;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;

import io.zonekeeper.shim.proto.TtrpcProto;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * A ttrpc server on a Unix socket: unary requests only (the task service has no streaming method). Each connection
 * has a reader thread; each request runs on a thread of its own, since some (Wait) last as long as a container,
 * and at most {@link #MAX_IN_FLIGHT} run at once per connection: past that the reader stops reading, so a client
 * that floods requests holds back only itself. Only a peer of the server's own user is served (SO_PEERCRED); the
 * socket is 0600.
 */
public final class TtrpcServer implements Closeable {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.shim");
    static final int MAX_IN_FLIGHT = 256;

    private final Path socket;
    private final Map<String, TtrpcService> services = new HashMap<>();
    private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger threads = new AtomicInteger();
    private ServerSocketChannel server;
    private Thread acceptor;
    private volatile boolean closed;

    public TtrpcServer(Path socket, List<TtrpcService> services) {
        this.socket = socket;
        for (TtrpcService s : services) {
            this.services.put(s.name(), s);
        }
    }

    public Path socket() {
        return socket;
    }

    /** Binds the socket (replacing a stale one left by an earlier appliance) and starts accepting. */
    public void start() throws IOException {
        Files.createDirectories(socket.getParent());
        Files.deleteIfExists(socket);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        acceptor = new Thread(this::acceptLoop, "zonekeeper-ttrpc-accept " + socket);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private void acceptLoop() {
        String self = System.getProperty("user.name");
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(Level.WARNING, "ttrpc accept on " + socket + " failed: " + e.getMessage());
                }
                return;
            }
            try {
                UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
                if (!peer.user().getName().equals(self)) {
                    LOG.log(Level.WARNING, "refused a ttrpc client of user " + peer.user().getName() + " on " + socket
                            + ": only " + self + " is served");
                    ch.close();
                    continue;
                }
            } catch (IOException | UnsupportedOperationException e) {
                LOG.log(Level.WARNING, "cannot tell the ttrpc client's user on " + socket + "; refused: " + e);
                closeQuietly(ch);
                continue;
            }
            connections.add(ch);
            Thread t = new Thread(() -> serve(ch), "zonekeeper-ttrpc-conn-" + threads.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel ch) {
        Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
        InputStream in = TtrpcCodec.input(ch);
        OutputStream out = TtrpcCodec.output(ch);
        try {
            TtrpcFrame f;
            while ((f = TtrpcCodec.read(in)) != null) {
                if (f.type() != TtrpcFrame.REQUEST) {
                    // A data frame can only belong to a streaming request, which was already refused.
                    continue;
                }
                if ((f.streamId() & 1) == 0) {
                    throw new TtrpcProtocolException("request on even stream id " + Integer.toUnsignedString(
                            f.streamId()) + "; clients use odd ids");
                }
                inFlight.acquire();
                TtrpcFrame request = f;
                Thread t = new Thread(() -> {
                    try {
                        respond(out, request);
                    } finally {
                        inFlight.release();
                    }
                }, "zonekeeper-ttrpc-call-" + threads.incrementAndGet());
                t.setDaemon(true);
                t.start();
            }
        } catch (TtrpcProtocolException e) {
            LOG.log(Level.WARNING, "ttrpc client on " + socket + " closed for a protocol error: " + e.getMessage());
        } catch (IOException e) {
            if (!closed) {
                LOG.log(Level.DEBUG, "ttrpc connection ended: " + e.getMessage());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            connections.remove(ch);
            closeQuietly(ch);
        }
    }

    private void respond(OutputStream out, TtrpcFrame frame) {
        TtrpcProto.Response response;
        try {
            response = TtrpcProto.Response.newBuilder().setPayload(ByteString.copyFrom(dispatch(frame))).build();
        } catch (TtrpcException e) {
            response = TtrpcProto.Response.newBuilder().setStatus(TtrpcProto.Status.newBuilder().setCode(e.code())
                    .setMessage(e.getMessage() == null ? "" : e.getMessage())).build();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "ttrpc call failed unexpectedly", e);
            response = TtrpcProto.Response.newBuilder().setStatus(TtrpcProto.Status.newBuilder()
                    .setCode(TtrpcException.INTERNAL).setMessage("internal error: " + e)).build();
        }
        byte[] data = response.toByteArray();
        if (data.length > TtrpcFrame.MAX_DATA) {
            data = TtrpcProto.Response.newBuilder().setStatus(TtrpcProto.Status.newBuilder()
                    .setCode(TtrpcException.RESOURCE_EXHAUSTED).setMessage("response of " + data.length
                            + " bytes is over ttrpc's limit of " + TtrpcFrame.MAX_DATA)).build().toByteArray();
        }
        try {
            synchronized (out) {
                TtrpcCodec.write(out, new TtrpcFrame(frame.streamId(), TtrpcFrame.RESPONSE, 0, data));
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "cannot answer a ttrpc request (the client left?): " + e.getMessage());
        }
    }

    private byte[] dispatch(TtrpcFrame frame) throws TtrpcException {
        if ((frame.flags() & TtrpcFrame.REMOTE_OPEN) != 0) {
            throw new TtrpcException(TtrpcException.UNIMPLEMENTED, "streaming requests are not served here");
        }
        TtrpcProto.Request req;
        try {
            req = TtrpcProto.Request.parseFrom(frame.data());
        } catch (InvalidProtocolBufferException e) {
            throw new TtrpcException(TtrpcException.INVALID_ARGUMENT, "the request is not a ttrpc.Request: "
                    + e.getMessage());
        }
        TtrpcService service = services.get(req.getService());
        if (service == null) {
            throw new TtrpcException(TtrpcException.UNIMPLEMENTED, "no service " + req.getService() + " here; "
                    + "there is " + String.join(", ", services.keySet()));
        }
        Map<String, String> metadata = new HashMap<>();
        for (TtrpcProto.KeyValue kv : req.getMetadataList()) {
            metadata.put(kv.getKey(), kv.getValue());
        }
        return service.call(req.getMethod(), req.getPayload().toByteArray(), metadata);
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        for (SocketChannel c : connections) {
            closeQuietly(c);
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "cannot remove " + socket + ": " + e.getMessage());
        }
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (IOException ignored) {
            // closing either way
        }
    }
}

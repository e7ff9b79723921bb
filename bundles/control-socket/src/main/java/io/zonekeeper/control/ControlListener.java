package io.zonekeeper.control;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.felix.service.command.CommandProcessor;

import jakarta.json.spi.JsonProvider;
import jdk.net.ExtendedSocketOptions;

/**
 * Accepts control connections and reads their requests on one selector thread, so that a client that connects and
 * sends nothing, or drips its request a byte at a time, costs a file descriptor and a buffer but no thread, and
 * never delays anyone else. A complete request gets a thread of its own for its command. Every limit is answered
 * with a clear error frame where the client can take one, and logged.
 */
final class ControlListener {

    /**
     * How many connections may be open at once, reading or running; at the limit, a new one takes the place of the
     * one that has waited longest for its request.
     */
    static final int MAX_CONNECTIONS = 128;
    /** How many commands may run at once. */
    static final int MAX_RUNNING = 16;
    /** Requests are one short JSON line; a command line never comes near this. */
    static final int MAX_REQUEST_BYTES = 64 * 1024;

    private static final Logger LOG = System.getLogger("io.zonekeeper.control");

    private final ServerSocketChannel server;
    private final PeerPolicy peers;
    private final CommandProcessor processor;
    private final JsonProvider json;
    private final Duration requestTimeout;
    private final Duration writeStall;
    private final Selector selector;
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger connectionCount = new AtomicInteger();
    private final Thread thread;
    private volatile boolean closing;

    /**
     * @param requestTimeout how long a client has, from connecting, to send its whole request line
     * @param writeStall     how long a command's output may wait for a client that reads nothing before the rest
     *                       is dropped
     */
    ControlListener(ServerSocketChannel server, PeerPolicy peers, CommandProcessor processor, JsonProvider json,
            Duration requestTimeout, Duration writeStall) throws IOException {
        this.server = server;
        this.peers = peers;
        this.processor = processor;
        this.json = json;
        this.requestTimeout = requestTimeout;
        this.writeStall = writeStall;
        this.selector = Selector.open();
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        thread = new Thread(this::loop, "zonekeeper-control-accept");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Stops accepting, closes every connection and waits a little for the selector thread. */
    void close() {
        closing = true;
        try {
            selector.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Closing the control socket selector failed: " + e.getMessage());
        }
        try {
            server.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Closing the control socket failed: " + e.getMessage());
        }
        for (SocketChannel c : open) {
            closeQuietly(c);
        }
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Connections open now (reading their request or running their command). */
    int openConnections() {
        return open.size();
    }

    /** A connection still sending its request. */
    private static final class Pending {
        final long deadline;
        final ByteArrayOutputStream line = new ByteArrayOutputStream(256);

        Pending(long deadline) {
            this.deadline = deadline;
        }
    }

    private void loop() {
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        try {
            while (!closing) {
                selector.select(Math.max(1, Math.min(1000, requestTimeout.toMillis())));
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        acceptAll();
                    } else if (key.isReadable()) {
                        read(key, buffer);
                    }
                }
                selector.selectedKeys().clear();
                expire();
            }
        } catch (ClosedSelectorException e) {
            // closing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            if (!closing) {
                LOG.log(Level.ERROR, "The control socket stopped taking connections: " + e, e);
            }
        }
    }

    private void acceptAll() throws InterruptedException {
        while (true) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                // Out of file descriptors, most likely: the listener must outlive that. The pause keeps a listen
                // queue that stays ready from spinning this thread; pending requests wait that long.
                LOG.log(Level.WARNING, "Accepting a control connection failed: " + e.getMessage());
                Thread.sleep(100);
                return;
            }
            if (client == null) {
                return;
            }
            try {
                admit(client);
            } catch (IOException e) {
                LOG.log(Level.DEBUG, "A control client went away while connecting: " + e.getMessage());
                open.remove(client);
                closeQuietly(client);
            }
        }
    }

    private void admit(SocketChannel client) throws IOException {
        client.configureBlocking(false);
        if (open.size() >= MAX_CONNECTIONS && !evictSlowest()) {
            refuse(client, "too many control connections open (" + MAX_CONNECTIONS + "); try again later");
            LOG.log(Level.WARNING, "Refused a control connection: " + MAX_CONNECTIONS + " are open already");
            return;
        }
        String refusal;
        try {
            refusal = peers.refusal(client.getOption(ExtendedSocketOptions.SO_PEERCRED));
        } catch (IOException | RuntimeException e) {
            refusal = "the peer's credentials cannot be read (" + e.getMessage() + ")";
        }
        if (refusal != null) {
            LOG.log(Level.WARNING, "Refused a control connection: " + refusal);
            refuse(client, refusal);
            return;
        }
        open.add(client);
        client.register(selector, SelectionKey.OP_READ, new Pending(System.nanoTime() + requestTimeout.toNanos()));
    }

    /**
     * Makes room for a new connection by closing the one that has waited longest for its request line, so that a
     * flood of idle connections delays a real client by no more than it takes to send its request, instead of
     * shutting it out until the flood times out. Running commands are never closed for room.
     *
     * @return false when every open connection is running a command
     */
    private boolean evictSlowest() {
        SelectionKey slowest = null;
        for (SelectionKey key : selector.keys()) {
            if (key.isValid() && key.attachment() instanceof Pending p
                    && (slowest == null || p.deadline - ((Pending) slowest.attachment()).deadline < 0)) {
                slowest = key;
            }
        }
        if (slowest == null) {
            return false;
        }
        SocketChannel client = (SocketChannel) slowest.channel();
        slowest.cancel();
        LOG.log(Level.WARNING, "Closed the control connection that waited longest for its request: "
                + MAX_CONNECTIONS + " are open and another client is connecting");
        refuse(client, "too many control connections open (" + MAX_CONNECTIONS + "), and this one sent no request "
                + "line for the longest");
        open.remove(client);
        return true;
    }

    private void read(SelectionKey key, ByteBuffer buffer) {
        SocketChannel client = (SocketChannel) key.channel();
        Pending pending = (Pending) key.attachment();
        int n;
        try {
            buffer.clear();
            n = client.read(buffer);
        } catch (IOException e) {
            drop(key, client);
            return;
        }
        if (n < 0) {
            if (pending.line.size() == 0) {
                // A liveness probe: connected and went away without a request.
                drop(key, client);
            } else {
                // Most likely gone for good; one that only shut its sending side still learns why nothing ran.
                key.cancel();
                refuse(client, "the request line ended without its newline");
                open.remove(client);
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            byte b = buffer.get(i);
            if (b == '\n') {
                key.cancel();
                dispatch(client, pending.line.toString(StandardCharsets.UTF_8));
                return;
            }
            if (pending.line.size() == MAX_REQUEST_BYTES) {
                key.cancel();
                LOG.log(Level.WARNING, "Refused a control request longer than " + MAX_REQUEST_BYTES + " bytes");
                refuse(client, "request longer than " + MAX_REQUEST_BYTES + " bytes");
                open.remove(client);
                return;
            }
            pending.line.write(b);
        }
    }

    private void expire() {
        long now = System.nanoTime();
        for (SelectionKey key : selector.keys()) {
            if (key.isValid() && key.attachment() instanceof Pending p && now - p.deadline > 0) {
                SocketChannel client = (SocketChannel) key.channel();
                key.cancel();
                LOG.log(Level.INFO, "Closed a control connection that sent no whole request within "
                        + requestTimeout.toSeconds() + " s");
                refuse(client, "no request line within " + requestTimeout.toSeconds() + " s");
                open.remove(client);
            }
        }
    }

    /** Parses the request here, so that a malformed one is answered without taking a thread. */
    private void dispatch(SocketChannel client, String line) {
        String command;
        try {
            command = ControlConnection.parseCommand(line, json);
        } catch (IllegalArgumentException e) {
            answerAndClose(client, "bad request: " + e.getMessage());
            open.remove(client);
            return;
        }
        if (running.incrementAndGet() > MAX_RUNNING) {
            running.decrementAndGet();
            LOG.log(Level.WARNING, "Refused a control command: " + MAX_RUNNING + " are running already");
            refuse(client, "too many commands running (" + MAX_RUNNING + "); try again later");
            open.remove(client);
            return;
        }
        Thread t = new Thread(() -> serve(client, command), "zonekeeper-control-"
                + connectionCount.incrementAndGet());
        t.setDaemon(true);
        t.start();
    }

    private void serve(SocketChannel client, String command) {
        try (client; StallLimitedChannel out = new StallLimitedChannel(client, writeStall)) {
            new ControlConnection(out, processor, json).run(command);
        } catch (IOException e) {
            if (!closing) {
                LOG.log(Level.DEBUG, "Control connection ended: " + e.getMessage());
            }
        } finally {
            running.decrementAndGet();
            open.remove(client);
        }
    }

    private void refuse(SocketChannel client, String why) {
        answerAndClose(client, "refused: " + why);
    }

    /**
     * Answers with an error frame and exit code 2, as far as the client's socket buffer takes them without waiting
     * (a client that is not reading gets nothing, rather than holding up this thread), and closes the connection.
     */
    private void answerAndClose(SocketChannel client, String error) {
        String frames = json.createObjectBuilder().add("err", error + "\n").build() + "\n"
                + json.createObjectBuilder().add("exit", ControlConnection.EXIT_BAD_REQUEST).build() + "\n";
        try {
            client.write(ByteBuffer.wrap(frames.getBytes(StandardCharsets.UTF_8)));
            // Closing a Unix socket with unread input resets the peer, which then loses the answer too: take in
            // what has arrived (a bounded amount, without waiting) first.
            ByteBuffer sink = ByteBuffer.allocate(8192);
            for (int i = 0; i < 16 && client.read(sink.clear()) > 0; i++) {
                // dropped
            }
        } catch (IOException e) {
            // It went away; nothing to tell.
        }
        closeQuietly(client);
    }

    private void drop(SelectionKey key, SocketChannel client) {
        key.cancel();
        open.remove(client);
        closeQuietly(client);
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // going away either way
        }
    }
}

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
    /**
     * How long a refused connection is kept, its input read and dropped, so that its client reads the answer:
     * closing a Unix socket with unread input resets the peer, and the reset throws away the answer too.
     */
    static final Duration LINGER = Duration.ofSeconds(2);
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
    /** Refused connections lingering; touched by the selector thread only. */
    private int lingering;
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
        selector.wakeup();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            for (SelectionKey key : selector.keys()) {
                if (key.channel() instanceof SocketChannel c) {
                    closeQuietly(c);
                }
            }
            selector.close();
        } catch (IOException | RuntimeException e) {
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

    /** A refused connection, answered and shut for writing, whose input is read and dropped until it closes. */
    private record Refused(long deadline) {
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
            refuse(client, null, "too many control connections open (" + MAX_CONNECTIONS + "); try again later");
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
            refuse(client, null, refusal);
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
        LOG.log(Level.WARNING, "Closed the control connection that waited longest for its request: "
                + MAX_CONNECTIONS + " are open and another client is connecting");
        refuse((SocketChannel) slowest.channel(), slowest, "too many control connections open (" + MAX_CONNECTIONS
                + "), and this one sent no request line for the longest");
        return true;
    }

    private void read(SelectionKey key, ByteBuffer buffer) {
        SocketChannel client = (SocketChannel) key.channel();
        int n;
        try {
            buffer.clear();
            n = client.read(buffer);
        } catch (IOException e) {
            drop(key, client);
            return;
        }
        if (!(key.attachment() instanceof Pending pending)) {
            // A refused connection: its input is dropped until it closes.
            if (n < 0) {
                drop(key, client);
            }
            return;
        }
        if (n < 0) {
            if (pending.line.size() == 0) {
                // A liveness probe: connected and went away without a request.
                drop(key, client);
            } else {
                // Most likely gone for good; one that only shut its sending side still learns why nothing ran.
                refuse(client, key, "the request line ended without its newline");
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            byte b = buffer.get(i);
            if (b == '\n') {
                byte[] after = new byte[n - i - 1];
                buffer.get(i + 1, after);
                dispatch(key, client, pending.line.toString(StandardCharsets.UTF_8), after);
                return;
            }
            if (pending.line.size() == MAX_REQUEST_BYTES) {
                LOG.log(Level.WARNING, "Refused a control request longer than " + MAX_REQUEST_BYTES + " bytes");
                refuse(client, key, "request longer than " + MAX_REQUEST_BYTES + " bytes");
                return;
            }
            pending.line.write(b);
        }
    }

    private void expire() {
        long now = System.nanoTime();
        for (SelectionKey key : selector.keys()) {
            if (!key.isValid()) {
                continue;
            }
            if (key.attachment() instanceof Pending p && now - p.deadline > 0) {
                LOG.log(Level.INFO, "Closed a control connection that sent no whole request within "
                        + requestTimeout.toSeconds() + " s");
                refuse((SocketChannel) key.channel(), key, "no request line within " + requestTimeout.toSeconds()
                        + " s");
            } else if (key.attachment() instanceof Refused r && now - r.deadline() > 0) {
                drop(key, (SocketChannel) key.channel());
            }
        }
    }

    /** Parses the request here, so that a malformed one is answered without taking a thread. */
    private void dispatch(SelectionKey key, SocketChannel client, String line, byte[] after) {
        ControlConnection.Request command;
        try {
            command = ControlConnection.parseRequest(line, json);
        } catch (IllegalArgumentException e) {
            answerAndClose(client, key, "bad request: " + e.getMessage());
            return;
        }
        if (running.incrementAndGet() > MAX_RUNNING) {
            running.decrementAndGet();
            LOG.log(Level.WARNING, "Refused a control command: " + MAX_RUNNING + " are running already");
            refuse(client, key, "too many commands running (" + MAX_RUNNING + "); try again later");
            return;
        }
        // The command's thread writes to the connection from now on; it reads nothing more, except the client's
        // stdin when the request asked to send it (protocol 2), which its ControlInput reads.
        key.cancel();
        ControlInput input = command.stdin() ? new ControlInput(client, json, after) : null;
        Thread t = new Thread(() -> serve(client, command, input), "zonekeeper-control-"
                + connectionCount.incrementAndGet());
        t.setDaemon(true);
        t.start();
    }

    private void serve(SocketChannel client, ControlConnection.Request command, ControlInput input) {
        try (client; StallLimitedChannel out = new StallLimitedChannel(client, writeStall)) {
            new ControlConnection(out, processor, json).run(command, input);
        } catch (IOException e) {
            if (!closing) {
                LOG.log(Level.DEBUG, "Control connection ended: " + e.getMessage());
            }
        } finally {
            running.decrementAndGet();
            open.remove(client);
        }
    }

    private void refuse(SocketChannel client, SelectionKey key, String why) {
        answerAndClose(client, key, "refused: " + why);
    }

    /**
     * Answers with an error frame and exit code 2, as far as the client's socket buffer takes them without waiting
     * (a client that is not reading gets nothing, rather than holding up this thread), shuts the connection for
     * writing and lets it linger, its input dropped, until the client closes or {@link #LINGER} passes.
     *
     * @param key the connection's key with this selector, or null when it has none yet
     */
    private void answerAndClose(SocketChannel client, SelectionKey key, String error) {
        open.remove(client);
        String frames = json.createObjectBuilder().add("err", error + "\n").build() + "\n"
                + json.createObjectBuilder().add("exit", ControlConnection.EXIT_BAD_REQUEST).build() + "\n";
        try {
            client.write(ByteBuffer.wrap(frames.getBytes(StandardCharsets.UTF_8)));
            client.shutdownOutput();
            if (lingering >= MAX_CONNECTIONS) {
                // A flood of refusals: no more lingering; this client may lose its answer.
                drop(key, client);
                return;
            }
            Refused refused = new Refused(System.nanoTime() + LINGER.toNanos());
            if (key == null) {
                client.register(selector, SelectionKey.OP_READ, refused);
            } else {
                key.attach(refused);
            }
            lingering++;
        } catch (IOException e) {
            // It went away; nothing to tell.
            drop(key, client);
        }
    }

    /** Closes a connection this thread holds, reading or refused. */
    private void drop(SelectionKey key, SocketChannel client) {
        if (key != null) {
            if (key.attachment() instanceof Refused) {
                lingering--;
            }
            key.cancel();
        }
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

package io.zonekeeper.agent;

import java.io.Closeable;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one connection to a zone's agent (its hypervisor accepts one client on the agent socket), shared by every
 * exec in that zone. A reader thread takes the agent's frames and hands them to their sessions; a writer thread
 * sends, so that the reader never blocks on a write (the agent stops reading while its own output is stuck, and
 * the two would wait on each other). When the connection breaks while sessions run, the link connects again for
 * {@link #RECONNECT_FOR} and takes them up with REATTACH (docs/AGENT-PROTOCOL.md, "Reconnecting").
 */
public final class AgentLink implements Closeable {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.agent");
    static final Duration RECONNECT_FOR = Duration.ofSeconds(30);
    private static final AgentFrame STOP_WRITER = new AgentFrame(0, 0, new byte[0]);

    private final Path socket;
    private final Duration greetTimeout;
    private final SecureRandom random = new SecureRandom();
    private final Map<Integer, ExecSession> sessions = new ConcurrentHashMap<>();
    private final AtomicInteger nextId;
    private final LinkedBlockingQueue<AgentFrame> outgoing = new LinkedBlockingQueue<>();
    private volatile SocketChannel channel;
    private volatile boolean closed;
    private volatile String broken;
    private String agentIdent = "";
    private final Thread reader;
    private final Thread writer;

    private AgentLink(Path socket, Duration greetTimeout) {
        this.socket = socket;
        this.greetTimeout = greetTimeout;
        // Session ids of an earlier host may still live in the agent: start somewhere else.
        this.nextId = new AtomicInteger(1 + random.nextInt(1 << 30));
        this.reader = new Thread(this::readLoop, "zonekeeper-agent-read " + socket);
        this.writer = new Thread(this::writeLoop, "zonekeeper-agent-write " + socket);
        reader.setDaemon(true);
        writer.setDaemon(true);
    }

    /**
     * Connects to the agent socket and greets the agent, waiting up to {@code greetTimeout} for its answer (a zone
     * that is still booting starts its agent a moment after the kernel).
     */
    public static AgentLink connect(Path socket, Duration greetTimeout) throws AgentException {
        AgentLink link = new AgentLink(socket, greetTimeout);
        try {
            link.channel = link.open();
        } catch (IOException e) {
            throw new AgentException("cannot reach the agent on " + socket + ": " + e.getMessage(), e);
        }
        link.reader.start();
        link.writer.start();
        return link;
    }

    /** What the agent calls itself (its HELLO_OK). */
    public synchronized String agentIdent() {
        return agentIdent;
    }

    public boolean isOpen() {
        return !closed && broken == null;
    }

    /** Starts {@code request}; fails at once, with the agent's words, when the command cannot start. */
    public ExecSession exec(ExecRequest request, Duration startTimeout)
            throws AgentException, InterruptedException {
        int id = nextId.getAndIncrement();
        ExecSession s = new ExecSession(this, id);
        sessions.put(id, s);
        send(new AgentFrame(AgentCodec.EXEC, id, request.encode()));
        try {
            s.started.get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
            return s;
        } catch (ExecutionException e) {
            sessions.remove(id);
            throw e.getCause() instanceof AgentException a ? a : new AgentException(e.getCause().toString(), e);
        } catch (TimeoutException e) {
            sessions.remove(id);
            throw new AgentException("the agent on " + socket + " did not start " + request.argv().get(0)
                    + " within " + startTimeout.toSeconds() + " s");
        }
    }

    void send(AgentFrame f) throws AgentException {
        if (closed || broken != null) {
            throw new AgentException("the connection to the agent on " + socket + " is closed"
                    + (broken != null ? ": " + broken : ""));
        }
        outgoing.add(f);
    }

    void sendQuietly(AgentFrame f) {
        if (!closed && broken == null) {
            outgoing.add(f);
        }
    }

    /** A fresh connection, greeted: SYNC, nonce, HELLO; then the reader waits for the agent's SYNC and HELLO_OK. */
    private SocketChannel open() throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        long nonce = random.nextLong();
        ByteBuffer hello = ByteBuffer.wrap(AgentCodec.hello(nonce));
        while (hello.hasRemaining()) {
            ch.write(hello);
        }
        pendingNonce = nonce;
        return ch;
    }

    private volatile long pendingNonce;

    private void readLoop() {
        boolean first = true;
        while (!closed) {
            SocketChannel ch = channel;
            String why;
            try {
                readConnection(ch, first);
                why = "the agent's connection ended";
            } catch (AgentProtocolException e) {
                // A guest that breaks the protocol gets no second chance on this link.
                fail("agent protocol error: " + e.getMessage());
                return;
            } catch (IOException e) {
                why = e.getMessage();
            }
            first = false;
            closeQuietly(ch);
            if (closed) {
                return;
            }
            if (sessions.isEmpty()) {
                fail(why);
                return;
            }
            LOG.log(Level.INFO, "Agent connection on " + socket + " lost (" + why + "); reconnecting for "
                    + sessions.size() + " session(s)");
            if (!reconnect()) {
                fail(why + "; no reconnect within " + RECONNECT_FOR.toSeconds() + " s");
                return;
            }
        }
    }

    private boolean reconnect() {
        long deadline = System.nanoTime() + RECONNECT_FOR.toNanos();
        while (!closed && System.nanoTime() < deadline) {
            try {
                channel = open();
                return true;
            } catch (IOException e) {
                try {
                    Thread.sleep(250);
                } catch (InterruptedException ie) {
                    return false;
                }
            }
        }
        return false;
    }

    private void readConnection(SocketChannel ch, boolean first) throws IOException {
        AgentCodec.Reader in = new AgentCodec.Reader(pendingNonce);
        ByteBuffer buf = ByteBuffer.allocate(AgentCodec.HEADER + AgentCodec.MAX_PAYLOAD);
        CompletableFuture<Void> greeted = new CompletableFuture<>();
        Thread watchdog = new Thread(() -> {
            try {
                greeted.get(greetTimeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                broken = "the agent did not answer within " + greetTimeout.toSeconds() + " s (is the zone up, with"
                        + " an image that has the agent?)";
                closeQuietly(ch);
            } catch (InterruptedException | ExecutionException e) {
                // done
            }
        }, "zonekeeper-agent-greet");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            while (true) {
                buf.clear().limit(Math.min(buf.capacity(), in.room()));
                int n = ch.read(buf);
                if (n < 0) {
                    return;
                }
                in.feed(buf.array(), 0, n);
                for (AgentFrame f = in.next(); f != null; f = in.next()) {
                    if (!greeted.isDone()) {
                        if (f.type() != AgentCodec.HELLO_OK || f.payload().length < 2) {
                            throw new AgentProtocolException(String.format(
                                    "expected HELLO_OK first, got type 0x%02x", f.type()));
                        }
                        int version = Short.toUnsignedInt(ByteBuffer.wrap(f.payload()).getShort());
                        if (version != AgentCodec.VERSION) {
                            throw new AgentProtocolException("the agent speaks version " + version + ", this host "
                                    + AgentCodec.VERSION);
                        }
                        synchronized (this) {
                            agentIdent = AgentCodec.printable(new String(f.payload(), 2, f.payload().length - 2,
                                    StandardCharsets.UTF_8));
                        }
                        greeted.complete(null);
                        if (!first) {
                            for (ExecSession s : sessions.values()) {
                                sendQuietly(s.ack(AgentCodec.REATTACH));
                            }
                        }
                        continue;
                    }
                    dispatch(f);
                }
            }
        } finally {
            greeted.complete(null);
        }
    }

    private void dispatch(AgentFrame f) throws IOException {
        ExecSession s = sessions.get(f.session());
        if (s == null) {
            // A session of an earlier host, or one that ended here: let the agent free it once it is over.
            if (f.type() == AgentCodec.EXIT || f.type() == AgentCodec.ERROR) {
                sendQuietly(new AgentFrame(AgentCodec.RELEASE, f.session(), new byte[0]));
            }
            return;
        }
        switch (f.type()) {
            case AgentCodec.STARTED -> s.started.complete(ExecSession.pidOf(f.payload()));
            case AgentCodec.STDOUT, AgentCodec.STDERR -> s.output(f.type(), f.payload());
            case AgentCodec.STDIN_ACK -> s.stdinTaken(ByteBuffer.wrap(f.payload()).getLong());
            case AgentCodec.ATTACHED -> s.attached(ByteBuffer.wrap(f.payload()).getLong());
            case AgentCodec.EXIT -> {
                sessions.remove(f.session());
                s.exited(f.payload());
                sendQuietly(new AgentFrame(AgentCodec.RELEASE, f.session(), new byte[0]));
            }
            case AgentCodec.ERROR -> {
                sessions.remove(f.session());
                s.failed(new AgentException(AgentCodec.errorText(f.payload())));
                sendQuietly(new AgentFrame(AgentCodec.RELEASE, f.session(), new byte[0]));
            }
            default -> throw new AgentProtocolException(String.format("unexpected frame type 0x%02x", f.type()));
        }
    }

    private void writeLoop() {
        try {
            while (true) {
                AgentFrame f = outgoing.take();
                if (f == STOP_WRITER) {
                    return;
                }
                ByteBuffer b = ByteBuffer.wrap(AgentCodec.encode(f));
                try {
                    while (b.hasRemaining()) {
                        channel.write(b);
                    }
                } catch (IOException e) {
                    // The reader sees the break and reconnects; stdin that did not go is sent again on ATTACHED.
                    Thread.sleep(100);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void fail(String why) {
        if (broken == null) {
            broken = why;
            if (!closed) {
                LOG.log(Level.WARNING, "Agent link on " + socket + " closed: " + why);
            }
        }
        // QEMU serves one client: a link that gives up must let go of the socket for the next one.
        closeQuietly(channel);
        AgentException e = new AgentException("lost the agent on " + socket + ": " + broken);
        for (ExecSession s : sessions.values()) {
            s.failed(e);
        }
        sessions.clear();
        outgoing.add(STOP_WRITER);
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(channel);
        fail("closed by the host");
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            if (ch != null) {
                ch.close();
            }
        } catch (IOException ignored) {
            // closing either way
        }
    }
}

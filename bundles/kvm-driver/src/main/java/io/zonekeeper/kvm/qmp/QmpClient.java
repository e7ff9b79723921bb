package io.zonekeeper.kvm.qmp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import jakarta.json.spi.JsonProvider;

/**
 * A QMP connection to one QEMU over its Unix socket. Commands carry an id, so replies are matched even when events
 * arrive in between. Every connection is read by one shared thread ({@link QmpReactor}), so a hundred zones cost no
 * hundred parked readers; events and then {@code onClose} reach the listener in order, off that thread, so a
 * listener that blocks delays only its own connection's events. When QEMU goes away every pending command fails
 * and {@code onClose} runs once.
 */
public final class QmpClient implements AutoCloseable {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
    /**
     * Looked up once: {@code Json.createReader} and the like look the provider up anew on every call (a service
     * lookup and a new provider), which cost more than the parse of a QMP line; adoptions during a driver upgrade
     * parse a few per zone.
     */
    private static final JsonProvider JSON = JsonProvider.provider();

    private final SocketChannel channel;
    private final Consumer<QmpEvent> listener;
    private final Runnable onClose;
    private final Map<String, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();
    private final CompletableFuture<JsonObject> greeting = new CompletableFuture<>();
    private final AtomicLong ids = new AtomicLong();
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    /** The listener calls not yet run, chained so that they run one after another in the order they came. */
    private CompletableFuture<Void> deliveries = CompletableFuture.completedFuture(null);
    private volatile boolean closed;

    private QmpClient(SocketChannel channel, Consumer<QmpEvent> listener, Runnable onClose) {
        this.channel = channel;
        this.listener = listener;
        this.onClose = onClose;
    }

    /**
     * Connects, reads the greeting and negotiates capabilities. Retries the connection until {@code timeout},
     * since QEMU may not listen yet right after it started.
     */
    public static QmpClient connect(Path socket, Duration timeout, Consumer<QmpEvent> listener, Runnable onClose)
            throws QmpException {
        long deadline = System.nanoTime() + timeout.toNanos();
        QmpClient c = open(socket, deadline, listener, onClose);
        try {
            c.awaitGreeting(socket, timeout, deadline);
            c.execute("qmp_capabilities", null, timeout);
            return c;
        } catch (QmpException e) {
            c.close();
            throw e;
        }
    }

    /** What a connection made to prove a guest's identity learned: the VM's uuid and its run state. */
    public record Proof(QmpClient client, UUID uuid, String status) {
    }

    /** QMP answered the negotiation but not the identity queries ({@code query-uuid}, {@code query-status}). */
    public static final class IdentityUnproven extends QmpException {
        private static final long serialVersionUID = 1L;

        IdentityUnproven(QmpException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /**
     * {@link #connect}, then {@link #queryUuid} and {@link #queryStatus}, in one exchange: {@code qmp_capabilities},
     * {@code query-uuid} and {@code query-status} are written together as soon as the connection is open. QEMU reads
     * nothing of a client before it sent its greeting, and runs one client's commands in the order they came, so
     * the queries run after the negotiation, as if each had waited for the answer before; the greeting must still
     * come first, and every answer is checked as {@link #execute} does. One wake-up of QEMU instead of four: a driver
     * upgrade adopts every zone this way while the control plane waits.
     */
    public static Proof connectAndProve(Path socket, Duration timeout, Consumer<QmpEvent> listener,
            Runnable onClose) throws QmpException {
        long deadline = System.nanoTime() + timeout.toNanos();
        QmpClient c = open(socket, deadline, listener, onClose);
        try {
            List<Sent> sent = c.send(List.of("qmp_capabilities", "query-uuid", "query-status"), deadline);
            try {
                c.awaitGreeting(socket, timeout, deadline);
                c.answer(sent.get(0), deadline, timeout);
                try {
                    UUID uuid = uuidOf(c.answer(sent.get(1), deadline, timeout));
                    String status = c.answer(sent.get(2), deadline, timeout) instanceof JsonObject o
                            ? o.getString("status", "") : "";
                    return new Proof(c, uuid, status);
                } catch (QmpException e) {
                    throw new IdentityUnproven(e);
                }
            } finally {
                sent.forEach(x -> c.pending.remove(x.id));
            }
        } catch (QmpException e) {
            c.close();
            throw e;
        }
    }

    /**
     * Runs what an adoption's exchange runs, on canned lines and without a socket: the requests are built, a greeting
     * and the three answers parsed and matched the way the shared reader does. A driver bundle staged for an upgrade
     * calls it, so that its first adoptions run no code for the first time.
     */
    public static void warmUp() {
        QmpClient c = new QmpClient(null, e -> { }, () -> { });
        c.handle("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"},"
                + " \"capabilities\": [\"oob\"]}}");
        List<String> answers = List.of("{}", "{\"UUID\": \"" + new UUID(0, 0) + "\"}",
                "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
        List<String> commands = List.of("qmp_capabilities", "query-uuid", "query-status");
        for (int i = 0; i < commands.size(); i++) {
            String id = "zk-" + c.ids.incrementAndGet();
            JSON.createObjectBuilder().add("execute", commands.get(i)).add("id", id).build().toString()
                    .getBytes(StandardCharsets.UTF_8);
            CompletableFuture<JsonObject> reply = new CompletableFuture<>();
            c.pending.put(id, reply);
            c.handle("{\"return\": " + answers.get(i) + ", \"id\": \"" + id + "\"}");
            JsonValue v = reply.getNow(JsonValue.EMPTY_JSON_OBJECT).getOrDefault("return", JsonValue.EMPTY_JSON_OBJECT);
            try {
                if (i == 1) {
                    uuidOf(v);
                } else if (i == 2 && v instanceof JsonObject o) {
                    o.getString("status", "");
                }
            } catch (QmpException e) {
                throw new IllegalStateException("the canned answer did not parse", e);
            }
            c.pending.remove(id);
        }
    }

    /** Opens the connection (retrying until {@code deadline}) and lets the shared reader read it. */
    private static QmpClient open(Path socket, long deadline, Consumer<QmpEvent> listener, Runnable onClose)
            throws QmpException {
        SocketChannel ch = null;
        while (ch == null) {
            try {
                ch = openBefore(socket, deadline);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new QmpException("cannot connect to QMP at " + socket + ": " + e.getMessage(), e);
                }
                sleep(10);
            }
        }
        QmpClient c = new QmpClient(ch, listener == null ? e -> { } : listener, onClose == null ? () -> { } : onClose);
        try {
            ch.configureBlocking(false);
            QmpReactor.SHARED.register(ch, c::readable);
        } catch (IOException e) {
            c.close();
            throw new QmpException("cannot watch QMP at " + socket + ": " + e.getMessage(), e);
        }
        return c;
    }

    private void awaitGreeting(Path socket, Duration timeout, long deadline) throws QmpException {
        try {
            long left = Math.max(1, deadline - System.nanoTime());
            greeting.get(Math.max(left, TimeUnit.SECONDS.toNanos(1)), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpException("QMP at " + socket + " sent no greeting within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw new QmpException("QMP at " + socket + " closed before its greeting", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while connecting to QMP at " + socket, e);
        }
    }

    /**
     * Opens a connection to {@code socket} without waiting past {@code deadline}. A blocking connect to a Unix socket
     * whose listener does not accept waits without any limit once the listener's backlog is full, and QEMU accepts
     * one QMP client at a time: with another client queued there (a second driver instance, a tool), an adoption
     * hung for good, and with it a driver upgrade and the zone's lock. Non-blocking, a full backlog is an error
     * (EAGAIN) that the caller retries until its deadline.
     */
    static SocketChannel openBefore(Path socket, long deadline) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.configureBlocking(false);
            boolean connected = ch.connect(UnixDomainSocketAddress.of(socket));
            while (!connected) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the listener did not accept the connection in time");
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while connecting", e);
                }
                connected = ch.finishConnect();
            }
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The greeting QEMU sent (it carries the QEMU version). */
    public JsonObject greeting() {
        return greeting.getNow(JsonValue.EMPTY_JSON_OBJECT);
    }

    public boolean isOpen() {
        return !closed;
    }

    /** Runs a command and returns its {@code return} value as an object (empty for commands that return none). */
    public JsonObject execute(String command, JsonObject arguments, Duration timeout) throws QmpException {
        JsonValue v = executeValue(command, arguments, timeout);
        return v instanceof JsonObject o ? o : JsonValue.EMPTY_JSON_OBJECT;
    }

    public JsonValue executeValue(String command, JsonObject arguments, Duration timeout) throws QmpException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Sent sent = send(command, arguments, deadline);
        try {
            return answer(sent, deadline, timeout);
        } finally {
            pending.remove(sent.id);
        }
    }

    /** A command written and not answered yet. */
    private record Sent(String command, String id, CompletableFuture<JsonObject> reply) {
    }

    private Sent send(String command, JsonObject arguments, long deadline) throws QmpException {
        return send(List.of(command), arguments, deadline).get(0);
    }

    private List<Sent> send(List<String> commands, long deadline) throws QmpException {
        return send(commands, null, deadline);
    }

    /** Writes the commands in one write, each with {@code arguments} (null for none); their replies are awaited. */
    private List<Sent> send(List<String> commands, JsonObject arguments, long deadline) throws QmpException {
        if (closed) {
            throw new QmpException("QMP connection is closed; cannot run " + String.join(", ", commands));
        }
        List<Sent> sent = new java.util.ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (String command : commands) {
            String id = "zk-" + ids.incrementAndGet();
            var req = JSON.createObjectBuilder().add("execute", command).add("id", id);
            if (arguments != null && !arguments.isEmpty()) {
                req.add("arguments", arguments);
            }
            Sent s = new Sent(command, id, new CompletableFuture<>());
            pending.put(id, s.reply);
            sent.add(s);
            text.append(req.build()).append('\n');
        }
        try {
            write(text.toString().getBytes(StandardCharsets.UTF_8), deadline);
            return sent;
        } catch (IOException e) {
            sent.forEach(x -> pending.remove(x.id));
            throw new QmpException(commands.get(0) + ": " + e.getMessage(), e);
        }
    }

    /** Waits for the reply to {@code sent} until {@code deadline}; its {@code return} value, or why not. */
    private JsonValue answer(Sent sent, long deadline, Duration timeout) throws QmpException {
        String command = sent.command;
        try {
            JsonObject r = sent.reply.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (r.containsKey("error")) {
                JsonObject err = r.getJsonObject("error");
                throw new QmpException(command + " failed: " + err.getString("class", "Error") + ": "
                        + err.getString("desc", err.toString()));
            }
            return r.getOrDefault("return", JsonValue.EMPTY_JSON_OBJECT);
        } catch (TimeoutException e) {
            throw new QmpException(command + " got no answer within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw new QmpException(command + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while waiting for " + command, e);
        }
    }

    /**
     * Writes a whole command line. The channel is non-blocking (the reactor selects on it); a command is a few
     * hundred bytes, so the socket buffer is full only when QEMU stopped reading, and then the wait is bounded.
     */
    private void write(byte[] bytes, long deadline) throws IOException {
        synchronized (channel) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                if (channel.write(buf) == 0) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("QEMU does not read its QMP socket");
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                }
            }
        }
    }

    /** {@code running}, {@code paused}, {@code shutdown}, {@code internal-error}, ... */
    public String queryStatus() throws QmpException {
        return queryStatus(DEFAULT_TIMEOUT);
    }

    /** {@link #queryStatus()}, for a caller that keeps a deadline of its own, such as the accelerator probe. */
    public String queryStatus(Duration timeout) throws QmpException {
        return execute("query-status", null, timeout).getString("status", "");
    }

    public UUID queryUuid() throws QmpException {
        return uuidOf(executeValue("query-uuid", null, DEFAULT_TIMEOUT));
    }

    private static UUID uuidOf(JsonValue answer) throws QmpException {
        String u = answer instanceof JsonObject o ? o.getString("UUID", "") : "";
        try {
            return UUID.fromString(u);
        } catch (IllegalArgumentException e) {
            throw new QmpException("query-uuid answered '" + u + "', not a UUID");
        }
    }

    /** Presses the power button; the guest decides what to do. */
    public void systemPowerdown() throws QmpException {
        execute("system_powerdown", null, DEFAULT_TIMEOUT);
    }

    /** Ends QEMU at once. The connection usually closes before or right after the reply, which counts as done. */
    public void quit() throws QmpException {
        try {
            execute("quit", null, DEFAULT_TIMEOUT);
        } catch (QmpException e) {
            if (!closed) {
                throw e;
            }
        }
    }

    public void stop() throws QmpException {
        execute("stop", null, DEFAULT_TIMEOUT);
    }

    public void cont() throws QmpException {
        execute("cont", null, DEFAULT_TIMEOUT);
    }

    /** Closes the connection only; QEMU keeps running. Returns at once: no reader thread to wait for. */
    @Override
    public void close() {
        shutdown(new QmpException("QMP connection closed"));
    }

    private void shutdown(QmpException cause) {
        boolean first;
        synchronized (this) {
            first = !closed;
            closed = true;
        }
        try {
            // A registered channel's descriptor is only released at the reactor's next select: shut the socket
            // down now, so that QEMU sees the end at once and accepts the next client (a new driver adopting).
            channel.shutdownInput();
            channel.shutdownOutput();
        } catch (IOException ignored) {
            // not connected any more
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        QmpReactor.SHARED.wakeup();
        greeting.completeExceptionally(cause);
        pending.values().forEach(f -> f.completeExceptionally(cause));
        if (first) {
            deliver(() -> {
                try {
                    onClose.run();
                } catch (RuntimeException ignored) {
                    // a listener's failure must not break the shutdown of the connection
                }
            });
        }
    }

    /** Runs a listener call after the ones before it, on the shared delivery pool. */
    private synchronized void deliver(Runnable call) {
        deliveries = deliveries.thenRunAsync(call, QmpReactor.DELIVERIES);
    }

    /**
     * Reads what the socket has on the reactor's thread; false once the connection is over. The buffer is the
     * reactor's, shared by every connection: it is only used for the length of this call.
     */
    private boolean readable(ByteBuffer buf) {
        try {
            while (true) {
                buf.clear();
                int n = channel.read(buf);
                if (n < 0) {
                    shutdown(new QmpException("QEMU closed the QMP connection"));
                    return false;
                }
                if (n == 0) {
                    return !closed;
                }
                byte[] a = buf.array();
                for (int i = 0; i < n; i++) {
                    if (a[i] == '\n') {
                        handle(line.toString(StandardCharsets.UTF_8).trim());
                        line.reset();
                    } else {
                        line.write(a[i]);
                    }
                }
            }
        } catch (IOException e) {
            shutdown(new QmpException("QMP connection lost: " + e.getMessage(), e));
            return false;
        }
    }

    private void handle(String text) {
        if (text.isEmpty()) {
            return;
        }
        JsonObject msg;
        try (JsonReader r = JSON.createReader(new StringReader(text))) {
            msg = r.readObject();
        } catch (JsonException | IllegalStateException | NumberFormatException | ArithmeticException | StackOverflowError e) {
            // Not a QMP message; nothing waits for it. The object reader recurses once per level, so a line nested
            // thousands deep overflows the stack inside the parser alone; unwound, the reader goes on. A number whose
            // exponent does not fit an int makes BigDecimal throw NumberFormatException.
            return;
        }
        if (msg.containsKey("QMP")) {
            if (msg.get("QMP") instanceof JsonObject g) {
                greeting.complete(g);
            }
        } else if (msg.containsKey("event")) {
            JsonObject data = msg.get("data") instanceof JsonObject d ? d : JsonValue.EMPTY_JSON_OBJECT;
            if (!(msg.get("event") instanceof jakarta.json.JsonString name)) {
                return; // not an event QEMU would send; the shared reader goes on with the next line
            }
            QmpEvent event = new QmpEvent(name.getString(), data);
            deliver(() -> {
                try {
                    listener.accept(event);
                } catch (RuntimeException ignored) {
                    // a listener's failure must not stop the deliveries after it
                }
            });
        } else if (msg.get("id") instanceof jakarta.json.JsonString id) {
            CompletableFuture<JsonObject> f = pending.get(id.getString());
            if (f != null) {
                f.complete(msg);
            }
        }
    }

    private static void sleep(long ms) throws QmpException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted", e);
        }
    }
}

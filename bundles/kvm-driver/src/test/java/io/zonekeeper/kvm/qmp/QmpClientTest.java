package io.zonekeeper.kvm.qmp;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import jakarta.json.Json;
import jakarta.json.JsonObject;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Talks to a fake QEMU that speaks QMP the way QEMU 7.2 does, including events between a command and its reply. */
public class QmpClientTest {
    private static final UUID VM = UUID.fromString("11111111-2222-3333-4444-555555555555");
    private Path dir;
    private Path socket;
    private ServerSocketChannel server;
    private Thread fake;
    private final List<String> received = new CopyOnWriteArrayList<>();

    @Before
    public void startFakeQemu() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "qmp");
        socket = dir.resolve("qmp.sock");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        fake = new Thread(this::serve, "fake-qemu");
        fake.setDaemon(true);
        fake.start();
    }

    @After
    public void stopFakeQemu() throws IOException, InterruptedException {
        server.close();
        fake.join(2000);
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
    }

    /** Serves every connection that comes, each on a thread of its own, as QEMU would serve one. */
    private void serve() {
        try {
            while (true) {
                SocketChannel ch = server.accept();
                Thread t = new Thread(() -> serve(ch), "fake-qemu-connection");
                t.setDaemon(true);
                t.start();
            }
        } catch (IOException e) {
            // the test closed the server
        }
    }

    private void serve(SocketChannel connection) {
        try (SocketChannel ch = connection) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                    StandardCharsets.UTF_8));
            PrintWriter out = new PrintWriter(Channels.newOutputStream(ch), true, StandardCharsets.UTF_8);
            out.print("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}}, "
                    + "\"capabilities\": [\"oob\"]}}\r\n");
            out.flush();
            String line;
            while ((line = in.readLine()) != null) {
                JsonObject req = Json.createReader(new java.io.StringReader(line)).readObject();
                String cmd = req.getString("execute");
                received.add(cmd);
                String id = req.getString("id");
                switch (cmd) {
                    case "qmp_capabilities", "stop", "cont" -> reply(out, id, "{}");
                    case "query-uuid" -> reply(out, id, "{\"UUID\": \"" + VM + "\"}");
                    case "system_powerdown" -> {
                        out.print("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"POWERDOWN\"}\r\n");
                        reply(out, id, "{}");
                        out.print("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}, \"event\": \"SHUTDOWN\", "
                                + "\"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r\n");
                        out.flush();
                    }
                    case "slow" -> { }
                    case "hangup" -> {
                        return;
                    }
                    default -> {
                        out.print("{\"id\": \"" + id + "\", \"error\": {\"class\": \"CommandNotFound\", "
                                + "\"desc\": \"The command " + cmd + " has not been found\"}}\r\n");
                        out.flush();
                    }
                }
            }
        } catch (IOException e) {
            // the test closed the server
        }
    }

    private static void reply(PrintWriter out, String id, String ret) {
        out.print("{\"return\": " + ret + ", \"id\": \"" + id + "\"}\r\n");
        out.flush();
    }

    @Test
    public void negotiatesAndMatchesRepliesAcrossEvents() throws Exception {
        List<QmpEvent> events = new CopyOnWriteArrayList<>();
        CountDownLatch shutdown = new CountDownLatch(1);
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(2), e -> {
            events.add(e);
            if (e.name().equals(QmpEvent.SHUTDOWN)) {
                shutdown.countDown();
            }
        }, null)) {
            assertEquals(7, qmp.greeting().getJsonObject("version").getJsonObject("qemu").getInt("major"));
            assertEquals("qmp_capabilities", received.get(0));
            assertEquals(VM, qmp.queryUuid());
            qmp.systemPowerdown();
            assertTrue(shutdown.await(2, TimeUnit.SECONDS));
            assertEquals(List.of("POWERDOWN", "SHUTDOWN"), events.stream().map(QmpEvent::name).toList());
            assertEquals("guest-shutdown", events.get(1).reason());
        }
    }

    @Test
    public void oneSharedThreadReadsEveryConnectionAndEndsAfterTheLast() throws Exception {
        List<QmpClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                clients.add(QmpClient.connect(socket, Duration.ofSeconds(2), null, null));
            }
            for (QmpClient c : clients) {
                assertEquals(VM, c.queryUuid());
            }
            assertEquals("one reader for five connections", 1, threadsNamed("qmp-reactor"));
            assertEquals("no reader per connection", 0, Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("qmp-") && !t.getName().equals("qmp-reactor")
                            && !t.getName().equals("qmp-events")).count());
        } finally {
            clients.forEach(QmpClient::close);
        }
        for (int i = 0; i < 100 && threadsNamed("qmp-reactor") > 0; i++) {
            Thread.sleep(50);
        }
        assertEquals("the reader ends once no connection is left", 0, threadsNamed("qmp-reactor"));
    }

    private static long threadsNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && t.getName().equals(name))
                .count();
    }

    @Test
    public void errorReplyBecomesExceptionWithQemusWords() throws Exception {
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(2), null, null)) {
            qmp.execute("bogus", null, Duration.ofSeconds(2));
            fail();
        } catch (QmpException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("CommandNotFound"));
        }
    }

    @Test
    public void unansweredCommandTimesOutAndConnectionStaysUsable() throws Exception {
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(2), null, null)) {
            long t0 = System.nanoTime();
            try {
                qmp.execute("slow", null, Duration.ofMillis(200));
                fail();
            } catch (QmpException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("no answer"));
            }
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2));
            qmp.stop();
            qmp.cont();
        }
    }

    @Test
    public void hangupFailsPendingCommandAndCallsOnCloseOnce() throws Exception {
        CountDownLatch closed = new CountDownLatch(2);
        QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(2), null, closed::countDown);
        try {
            qmp.execute("hangup", null, Duration.ofSeconds(2));
            fail();
        } catch (QmpException e) {
            assertFalse(qmp.isOpen());
        }
        qmp.close();
        assertFalse("onClose ran once", closed.await(300, TimeUnit.MILLISECONDS));
        assertEquals(1, closed.getCount());
    }

    @Test
    public void connectGivesUpWhenNobodyListens() throws Exception {
        long t0 = System.nanoTime();
        try {
            QmpClient.connect(dir.resolve("nothing.sock"), Duration.ofMillis(300), null, null);
            fail();
        } catch (QmpException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("nothing.sock"));
        }
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2));
    }

    /**
     * A listener that accepts nothing, its backlog full (as QEMU's QMP socket is while another client holds QEMU's
     * one QMP slot and more are queued): the connect gives up at its deadline instead of blocking for good.
     */
    @Test
    public void aListenerThatAcceptsNothingDoesNotHangTheConnect() throws Exception {
        Path full = dir.resolve("full.sock");
        List<SocketChannel> queued = new ArrayList<>();
        try (ServerSocketChannel deaf = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            deaf.bind(UnixDomainSocketAddress.of(full), 1);
            // Queue clients until the backlog refuses one (a non-blocking connect then fails with EAGAIN).
            for (int i = 0; i < 64; i++) {
                SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                c.configureBlocking(false);
                try {
                    c.connect(UnixDomainSocketAddress.of(full));
                    queued.add(c);
                } catch (IOException e) {
                    c.close();
                    break;
                }
            }
            assertTrue("the backlog never filled", queued.size() < 64);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
            try {
                java.util.concurrent.Future<String> f = pool.submit(() -> {
                    try {
                        QmpClient.connect(full, Duration.ofMillis(500), null, null).close();
                        return "connected";
                    } catch (QmpException e) {
                        return e.getMessage();
                    }
                });
                String outcome;
                try {
                    outcome = f.get(30, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    f.cancel(true);
                    outcome = null;
                }
                assertTrue("the connect blocked on a listener that accepts nothing", outcome != null);
                assertTrue(outcome, outcome.contains("cannot connect to QMP at " + full));
            } finally {
                pool.shutdownNow();
            }
        } finally {
            for (SocketChannel c : queued) {
                c.close();
            }
            Files.deleteIfExists(full);
        }
    }

    /**
     * A fake QEMU that greets only once a client's input holds {@code lines} commands (or after a second), then answers
     * each in order; it tells how many commands it had read when it greeted.
     */
    private static Thread greetsAfter(ServerSocketChannel srv, int lines, String uuidReply, List<Integer> readBeforeGreeting) {
        Thread t = new Thread(() -> {
            try (SocketChannel ch = srv.accept()) {
                java.io.InputStream raw = Channels.newInputStream(ch);
                BufferedReader in = new BufferedReader(new InputStreamReader(raw, StandardCharsets.UTF_8));
                PrintWriter out = new PrintWriter(Channels.newOutputStream(ch), true, StandardCharsets.UTF_8);
                List<String> got = new ArrayList<>();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                // Read what the client sent before any greeting, without blocking past the deadline.
                java.util.concurrent.ExecutorService r = java.util.concurrent.Executors.newSingleThreadExecutor();
                try {
                    while (got.size() < lines && System.nanoTime() < deadline) {
                        java.util.concurrent.Future<String> f = r.submit(in::readLine);
                        try {
                            String l = f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                            if (l == null) {
                                return;
                            }
                            got.add(l);
                        } catch (java.util.concurrent.TimeoutException e) {
                            // Nothing more before the greeting; the rest comes after it.
                            readBeforeGreeting.add(got.size());
                            out.print("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, "
                                    + "\"capabilities\": []}}\r\n");
                            out.flush();
                            got.add(f.get(2, TimeUnit.SECONDS));
                            deadline = Long.MIN_VALUE;
                        }
                    }
                    if (deadline != Long.MIN_VALUE) {
                        readBeforeGreeting.add(got.size());
                        out.print("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, "
                                + "\"capabilities\": []}}\r\n");
                        out.flush();
                    }
                    while (true) {
                        for (String line : got) {
                            JsonObject req = Json.createReader(new java.io.StringReader(line)).readObject();
                            String id = req.getString("id");
                            switch (req.getString("execute")) {
                                case "query-uuid" -> out.print("{\"id\": \"" + id + "\", " + uuidReply + "}\r\n");
                                case "query-status" -> reply(out, id, "{\"status\": \"paused\", \"running\": false}");
                                default -> reply(out, id, "{}");
                            }
                        }
                        out.flush();
                        got.clear();
                        java.util.concurrent.Future<String> f = r.submit(in::readLine);
                        String l = f.get(5, TimeUnit.SECONDS);
                        if (l == null) {
                            return;
                        }
                        got.add(l);
                    }
                } finally {
                    r.shutdownNow();
                }
            } catch (Exception e) {
                // the client went away
            }
        }, "fake-qemu-greets-late");
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Test
    public void anAdoptionProvesTheGuestInOneExchange() throws Exception {
        Path late = dir.resolve("late.sock");
        try (ServerSocketChannel srv = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            srv.bind(UnixDomainSocketAddress.of(late));
            List<Integer> readBeforeGreeting = new CopyOnWriteArrayList<>();
            Thread t = greetsAfter(srv, 3, "\"return\": {\"UUID\": \"" + VM + "\"}", readBeforeGreeting);
            QmpClient.Proof proof = QmpClient.connectAndProve(late, Duration.ofSeconds(5), null, null);
            try {
                assertEquals(VM, proof.uuid());
                assertEquals("paused", proof.status());
                assertEquals(7, proof.client().greeting().getJsonObject("version").getJsonObject("qemu").getInt("major"));
                // The negotiation and both queries were on QEMU's side before it even greeted: one wake-up of QEMU.
                assertEquals(List.of(3), readBeforeGreeting);
                assertTrue(proof.client().isOpen());
            } finally {
                proof.client().close();
            }
            t.join(5000);
        } finally {
            Files.deleteIfExists(late);
        }
    }

    @Test
    public void anAdoptionWhoseGuestDoesNotProveItsUuidFailsAndCloses() throws Exception {
        Path late = dir.resolve("liar.sock");
        try (ServerSocketChannel srv = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            srv.bind(UnixDomainSocketAddress.of(late));
            Thread t = greetsAfter(srv, 3, "\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}",
                    new CopyOnWriteArrayList<>());
            try {
                QmpClient.connectAndProve(late, Duration.ofSeconds(5), null, null);
                fail("a guest that answered query-uuid with an error was taken as proven");
            } catch (QmpException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("query-uuid failed: GenericError"));
                assertTrue("told apart from a QMP that does not answer: " + e.getClass(),
                        e instanceof QmpClient.IdentityUnproven);
            }
            t.join(5000);
            assertFalse("the fake still talks to a client the adoption should have closed", t.isAlive());
        } finally {
            Files.deleteIfExists(late);
        }
    }

    @Test
    public void warmingUpParsesCannedAnswersWithoutASocketOrAThread() throws Exception {
        boolean readerBefore = Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().equals("qmp-reactor"));
        QmpClient.warmUp();
        QmpClient.warmUp();
        if (!readerBefore) {
            assertFalse("warming up started the shared reader", Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.isAlive() && t.getName().equals("qmp-reactor")));
        }
        assertTrue("the fake QEMU was not contacted: " + received, received.isEmpty());
    }
}

package io.zonekeeper.xen.xenstore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import io.zonekeeper.xen.xenstore.XenstoreClient.WatchEvent;

/**
 * The client against a fake xenstored on a real Unix socket: a small tree, ENOENT for what is missing, watches
 * that fire at once and on writes under them. The fake sends a watch event before each answer and splits its
 * answers into small writes, so the client's framing and request matching are what is tested.
 */
public class XenstoreClientTest {
    private Path dir;
    private ServerSocketChannel server;
    private Thread peer;
    private final Map<String, String> tree = new TreeMap<>();
    private final Map<String, String> watches = new TreeMap<>();
    private final BlockingQueue<WatchEvent> events = new LinkedBlockingQueue<>();

    @Before
    public void startFakeXenstored() throws IOException {
        dir = Files.createTempDirectory("xs-test");
        Path socket = dir.resolve("socket");
        server = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        tree.put("/local/domain/3/name", "hello");
        tree.put("/local/domain/3/vm", "/vm/abc");
        peer = new Thread(this::serve, "fake xenstored");
        peer.setDaemon(true);
        peer.start();
    }

    @After
    public void stop() throws IOException {
        server.close();
        Files.deleteIfExists(dir.resolve("socket"));
        Files.deleteIfExists(dir);
    }

    private void serve() {
        try (SocketChannel ch = server.accept()) {
            ByteBuffer in = ByteBuffer.allocate(65536);
            while (ch.read(in) >= 0) {
                in.flip();
                XsMessage m;
                while ((m = XsMessage.decode(in)) != null) {
                    answer(ch, m);
                }
                in.compact();
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    private void answer(SocketChannel ch, XsMessage m) throws IOException {
        List<String> s = m.strings();
        XsMessage r;
        switch (m.type()) {
            case XsMessage.READ -> r = tree.containsKey(s.get(0))
                    ? new XsMessage(XsMessage.READ, m.reqId(), 0, tree.get(s.get(0)).getBytes(StandardCharsets.UTF_8))
                    : error(m, "ENOENT");
            case XsMessage.WRITE -> {
                tree.put(s.get(0), s.size() > 1 ? s.get(1) : "");
                for (Map.Entry<String, String> w : watches.entrySet()) {
                    if (s.get(0).startsWith(w.getKey())) {
                        send(ch, XsMessage.request(XsMessage.WATCH_EVENT, 0, 0, s.get(0), w.getValue()));
                    }
                }
                r = XsMessage.request(XsMessage.WRITE, m.reqId(), 0, "OK");
            }
            case XsMessage.DIRECTORY -> {
                String prefix = s.get(0) + "/";
                List<String> children = tree.keySet().stream().filter(k -> k.startsWith(prefix))
                        .map(k -> k.substring(prefix.length()).split("/")[0]).distinct().toList();
                r = children.isEmpty() ? error(m, "ENOENT")
                        : XsMessage.request(XsMessage.DIRECTORY, m.reqId(), 0, children.toArray(String[]::new));
            }
            case XsMessage.WATCH -> {
                watches.put(s.get(0), s.get(1));
                send(ch, XsMessage.request(XsMessage.WATCH, m.reqId(), 0, "OK"));
                r = XsMessage.request(XsMessage.WATCH_EVENT, 0, 0, s.get(0), s.get(1)); // fires at once
            }
            case XsMessage.SET_PERMS -> r = XsMessage.request(XsMessage.SET_PERMS, m.reqId(), 0, "OK");
            default -> r = error(m, "ENOSYS");
        }
        // An unrelated event first, so answers never simply follow requests.
        send(ch, XsMessage.request(XsMessage.WATCH_EVENT, 0, 0, "@noise", "other"));
        send(ch, r);
    }

    private static XsMessage error(XsMessage m, String errno) {
        return XsMessage.request(XsMessage.ERROR, m.reqId(), 0, errno);
    }

    private static void send(SocketChannel ch, XsMessage m) throws IOException {
        ByteBuffer b = m.encode();
        while (b.hasRemaining()) {
            ByteBuffer piece = b.duplicate();
            piece.limit(Math.min(b.limit(), b.position() + 7));
            b.position(b.position() + ch.write(piece));
        }
    }

    private XenstoreClient connect() throws XenstoreException {
        return XenstoreClient.connect(dir.resolve("socket"), Duration.ofSeconds(5), events::add);
    }

    @Test
    public void readsWritesAndListsAChildren() throws Exception {
        try (XenstoreClient xs = connect()) {
            assertEquals(Optional.of("hello"), xs.read("/local/domain/3/name"));
            assertEquals(Optional.empty(), xs.read("/local/domain/3/nothing"));
            xs.write("/local/domain/3/zonekeeper/zone", "0f1e2d3c-0000-4000-8000-000000000001");
            assertEquals(Optional.of("0f1e2d3c-0000-4000-8000-000000000001"),
                    xs.read("/local/domain/3/zonekeeper/zone"));
            assertEquals(List.of("name", "vm", "zonekeeper"), xs.directory("/local/domain/3"));
            assertEquals(List.of(), xs.directory("/local/domain/9"));
            xs.setPerms("/local/domain/3/zonekeeper/zone", "n0", "r3");
        }
    }

    @Test
    public void watchFiresAtOnceAndOnChangesUnderThePath() throws Exception {
        try (XenstoreClient xs = connect()) {
            xs.watch("/local/domain/3", "zk");
            assertEquals(new WatchEvent("/local/domain/3", "zk"), nextWith("zk"));
            xs.write("/local/domain/3/data", "x");
            assertEquals(new WatchEvent("/local/domain/3/data", "zk"), nextWith("zk"));
        }
    }

    private WatchEvent nextWith(String token) throws InterruptedException {
        while (true) {
            WatchEvent e = events.poll(5, TimeUnit.SECONDS);
            if (e == null) {
                throw new AssertionError("no watch event with token " + token);
            }
            if (e.token().equals(token)) {
                return e;
            }
        }
    }

    @Test
    public void anErrorAnswerNamesItsErrno() throws Exception {
        try (XenstoreClient xs = connect()) {
            XenstoreException e = assertThrows(XenstoreException.class, () -> xs.mkdir("/x"));
            assertEquals("ENOSYS", e.errno());
            assertTrue(e.getMessage(), e.getMessage().contains("mkdir /x"));
        }
    }

    @Test
    public void callsAfterThePeerHungUpFailInsteadOfHanging() throws Exception {
        XenstoreClient xs = connect();
        xs.read("/local/domain/3/name");
        server.close();
        peer.interrupt();
        xs.close();
        assertFalse(xs.isOpen());
        XenstoreException e = assertThrows(XenstoreException.class, () -> xs.read("/local/domain/3/name"));
        assertEquals("EIO", e.errno());
    }

    @Test
    public void aMissingSocketSaysWhereItLooked() {
        XenstoreException e = assertThrows(XenstoreException.class,
                () -> XenstoreClient.connect(dir.resolve("absent"), Duration.ofSeconds(1), null));
        assertTrue(e.getMessage(), e.getMessage().contains(dir.resolve("absent").toString()));
    }
}

package io.zonekeeper.xen.xenstore;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A xenstored for driver tests, on a real Unix socket: a tree of paths and values, ENOENT for what is missing, any
 * number of clients at once. Watches are accepted and fire once at once, as xenstored's do; writes, reads and
 * directory listings are recorded so that a test can tell how the driver found a domain.
 */
public final class FakeXenstored implements AutoCloseable {
    public final Map<String, String> tree = new ConcurrentSkipListMap<>();
    public final List<String> requests = new CopyOnWriteArrayList<>();
    private final Path socket;
    private final ServerSocketChannel server;

    public FakeXenstored(Path socket) throws IOException {
        this.socket = socket;
        Files.deleteIfExists(socket);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread t = new Thread(this::acceptAll, "fake xenstored");
        t.setDaemon(true);
        t.start();
    }

    public Path socket() {
        return socket;
    }

    private void acceptAll() {
        while (server.isOpen()) {
            try {
                SocketChannel ch = server.accept();
                Thread t = new Thread(() -> serve(ch), "fake xenstored client");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(SocketChannel ch) {
        try (ch) {
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
        String path = s.isEmpty() ? "" : s.get(0);
        XsMessage r;
        switch (m.type()) {
            case XsMessage.READ -> {
                requests.add("read " + path);
                String v = tree.get(path);
                r = v != null ? new XsMessage(XsMessage.READ, m.reqId(), 0, v.getBytes(StandardCharsets.UTF_8))
                        : error(m, "ENOENT");
            }
            case XsMessage.WRITE -> {
                requests.add("write " + path);
                tree.put(path, s.size() > 1 ? s.get(1) : "");
                r = XsMessage.request(XsMessage.WRITE, m.reqId(), 0, "OK");
            }
            case XsMessage.DIRECTORY -> {
                requests.add("directory " + path);
                String prefix = path + "/";
                List<String> children = tree.keySet().stream().filter(k -> k.startsWith(prefix))
                        .map(k -> k.substring(prefix.length()).split("/")[0]).distinct().toList();
                r = children.isEmpty() ? error(m, "ENOENT")
                        : XsMessage.request(XsMessage.DIRECTORY, m.reqId(), 0, children.toArray(String[]::new));
            }
            case XsMessage.WATCH -> {
                send(ch, XsMessage.request(XsMessage.WATCH, m.reqId(), 0, "OK"));
                r = XsMessage.request(XsMessage.WATCH_EVENT, 0, 0, s.get(0), s.get(1));
            }
            case XsMessage.SET_PERMS -> r = XsMessage.request(XsMessage.SET_PERMS, m.reqId(), 0, "OK");
            default -> r = error(m, "ENOSYS");
        }
        send(ch, r);
    }

    private static XsMessage error(XsMessage m, String errno) {
        return XsMessage.request(XsMessage.ERROR, m.reqId(), 0, errno);
    }

    private static synchronized void send(SocketChannel ch, XsMessage m) throws IOException {
        ByteBuffer b = m.encode();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
    }
}

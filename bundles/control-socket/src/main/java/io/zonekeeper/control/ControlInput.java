package io.zonekeeper.control;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import org.apache.felix.service.command.CommandSession;

import jakarta.json.JsonException;
import jakarta.json.spi.JsonProvider;
import jakarta.json.stream.JsonParser;

/**
 * A command's stdin from the client (protocol 2, {@code "stdin":true}): after the request line the client sends
 * JSON lines, each one flat object with one member: {@code {"in":"BASE64"}} (data), {@code {"eof":true}},
 * {@code {"signal":N}} (N in 1..64, queued in the session variable {@link #SIGNALS} for the running command) and
 * {@code {"winsize":"ROWSxCOLS"}} (into {@link ControlConnection#WINSIZE}). Each line is held to the request's own
 * limit; at most {@link #MAX_BUFFERED} bytes wait for the command, beyond that the socket is not read. A line that
 * breaks these rules ends the input (the command reads EOF) and is logged; the command itself runs on.
 */
final class ControlInput extends InputStream {
    /** Session variable: a {@code BlockingQueue<Integer>} of signal numbers the client sent. */
    static final String SIGNALS = "zonekeeper.signals";
    static final int MAX_BUFFERED = 1 << 20;
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.control");

    private final SocketChannel client;
    private final JsonProvider json;
    private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
    private final BlockingQueue<Integer> signals = new LinkedBlockingQueue<>();
    private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
    private byte[] head;
    private int headAt;
    private int buffered;
    private boolean eof;
    private volatile CommandSession session;

    /** {@code leftover}: what the client sent after the request line in the same read. */
    ControlInput(SocketChannel client, JsonProvider json, byte[] leftover) {
        this.client = client;
        this.json = json;
        accept(leftover, 0, leftover.length);
    }

    void attach(CommandSession s) {
        session = s;
        s.put(SIGNALS, signals);
        Thread t = new Thread(this::readLoop, "zonekeeper-control-stdin");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public synchronized int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public synchronized int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        try {
            while (head == null) {
                head = chunks.poll();
                headAt = 0;
                if (head == null) {
                    if (eof) {
                        return -1;
                    }
                    wait();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("stdin read interrupted");
        }
        int n = Math.min(len, head.length - headAt);
        System.arraycopy(head, headAt, b, off, n);
        headAt += n;
        if (headAt == head.length) {
            head = null;
        }
        buffered -= n;
        notifyAll();
        return n;
    }

    private void readLoop() {
        ByteBuffer buf = ByteBuffer.allocate(16384);
        try (Selector selector = Selector.open()) {
            client.register(selector, SelectionKey.OP_READ);
            while (client.isOpen() && !ended()) {
                synchronized (this) {
                    while (buffered > MAX_BUFFERED && !eof) {
                        wait(500);
                    }
                }
                if (selector.select(500) == 0) {
                    continue;
                }
                selector.selectedKeys().clear();
                buf.clear();
                int n = client.read(buf);
                if (n < 0) {
                    end();
                    return;
                }
                accept(buf.array(), 0, n);
            }
        } catch (IOException | RuntimeException e) {
            end();
        } catch (InterruptedException e) {
            end();
        }
    }

    private synchronized boolean ended() {
        return eof;
    }

    private void accept(byte[] b, int off, int n) {
        for (int i = off; i < off + n && !ended(); i++) {
            if (b[i] == '\n') {
                String l = line.toString(StandardCharsets.UTF_8);
                line.reset();
                try {
                    message(l);
                } catch (IllegalArgumentException e) {
                    LOG.log(Level.WARNING, "Control client input refused, its stdin ends here: " + e.getMessage());
                    end();
                }
            } else if (line.size() == ControlListener.MAX_REQUEST_BYTES) {
                LOG.log(Level.WARNING, "Control client input line longer than " + ControlListener.MAX_REQUEST_BYTES
                        + " bytes; its stdin ends here");
                end();
            } else {
                line.write(b[i]);
            }
        }
    }

    /** One input line: a flat object with exactly one known member. */
    void message(String l) {
        try (JsonParser p = json.createParser(new StringReader(l))) {
            if (!p.hasNext() || p.next() != JsonParser.Event.START_OBJECT) {
                throw new IllegalArgumentException("expected a JSON object");
            }
            if (p.next() != JsonParser.Event.KEY_NAME) {
                throw new IllegalArgumentException("expected one member");
            }
            String key = p.getString();
            JsonParser.Event v = p.next();
            switch (key) {
                case "in" -> {
                    if (v != JsonParser.Event.VALUE_STRING) {
                        throw new IllegalArgumentException("in: expected base64 text");
                    }
                    byte[] data = Base64.getDecoder().decode(p.getString());
                    synchronized (this) {
                        chunks.add(data);
                        buffered += data.length;
                        notifyAll();
                    }
                }
                case "eof" -> end();
                case "signal" -> {
                    if (v != JsonParser.Event.VALUE_NUMBER || !p.isIntegralNumber() || p.getInt() < 1
                            || p.getInt() > 64) {
                        throw new IllegalArgumentException("signal: expected a number 1..64");
                    }
                    signals.add(p.getInt());
                }
                case "winsize" -> {
                    if (v != JsonParser.Event.VALUE_STRING || !p.getString().matches("\\d{1,5}x\\d{1,5}")) {
                        throw new IllegalArgumentException("winsize: expected \"ROWSxCOLS\"");
                    }
                    CommandSession s = session;
                    if (s != null) {
                        s.put(ControlConnection.WINSIZE, p.getString());
                    }
                }
                default -> throw new IllegalArgumentException(key + ": unknown; known: in, eof, signal, winsize");
            }
            if (p.next() != JsonParser.Event.END_OBJECT || p.hasNext()) {
                throw new IllegalArgumentException("expected one member and nothing after the object");
            }
        } catch (JsonException | NoSuchElementException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage());
        }
    }

    private synchronized void end() {
        eof = true;
        notifyAll();
    }
}

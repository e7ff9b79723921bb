package com.acme.zonekeeper.pc;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One QMP command over the monitor socket, and nothing more: read the greeting, leave capability negotiation,
 * send the command, read its answer. QMP answers are one JSON object per line.
 */
final class Qmp {
    private Qmp() {
    }

    /** Runs {@code command} (such as {@code system_powerdown}); throws when QEMU does not answer with a return. */
    static void execute(Path socket, String command) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            LineReader in = new LineReader(ch);
            require(in.line(), "\"QMP\"");
            send(ch, "{\"execute\":\"qmp_capabilities\"}");
            require(in.answer(), "\"return\"");
            send(ch, "{\"execute\":\"" + command + "\"}");
            require(in.answer(), "\"return\"");
        }
    }

    private static void require(String line, String what) throws IOException {
        if (!line.contains(what)) {
            throw new IOException("QMP answered " + line);
        }
    }

    private static void send(SocketChannel ch, String json) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static final class LineReader {
        private final SocketChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocate(8192);
        private final StringBuilder pending = new StringBuilder();

        LineReader(SocketChannel ch) {
            this.ch = ch;
        }

        String line() throws IOException {
            while (true) {
                int nl = pending.indexOf("\n");
                if (nl >= 0) {
                    String line = pending.substring(0, nl);
                    pending.delete(0, nl + 1);
                    return line;
                }
                buf.clear();
                if (ch.read(buf) < 0) {
                    throw new IOException("QEMU closed the monitor");
                }
                buf.flip();
                pending.append(StandardCharsets.UTF_8.decode(buf));
            }
        }

        /** The next line that is not an asynchronous event. */
        String answer() throws IOException {
            String l;
            do {
                l = line();
            } while (l.contains("\"event\""));
            return l;
        }
    }
}

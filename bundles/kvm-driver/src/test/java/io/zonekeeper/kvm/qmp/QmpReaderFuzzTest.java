package io.zonekeeper.kvm.qmp;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.StringReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;

import jakarta.json.Json;

/**
 * The QMP reader, fed any bytes after a proper greeting and capabilities reply: what QEMU prints on its QMP socket
 * (event data carries guest-influenced strings). Its contract: whatever arrives, the reader thread goes on to the
 * end of the stream and then reports the connection closed. A reader that dies on a message (a ClassCastException
 * from a member of the wrong type, a StackOverflowError from deep nesting) never reports the close, and every
 * command waits out its timeout: that fails. The corpus and every crash found are kept under
 * {@code QmpReaderFuzzTestInputs/qmpReader}.
 */
class QmpReaderFuzzTest {
    /** Far longer than reading a few KiB takes; reached only when the reader died or hangs. */
    private static final long CLOSE_WAIT_SECONDS = 10;

    @FuzzTest(maxDuration = "10m")
    void qmpReader(byte[] input) throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "qmp-fuzz");
        Path socket = dir.resolve("qmp.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread qemu = new Thread(() -> speak(server, input), "fake-qemu");
            qemu.setDaemon(true);
            qemu.start();
            CountDownLatch closed = new CountDownLatch(1);
            try (QmpClient client = QmpClient.connect(socket, Duration.ofSeconds(5), QmpEvent::reason,
                    closed::countDown)) {
                if (!closed.await(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    throw new AssertionError("the QMP reader did not report the end of the stream: it died on a "
                            + "message or hangs");
                }
            }
            qemu.join();
        } finally {
            Files.deleteIfExists(socket);
            Files.delete(dir);
        }
    }

    /** Greets, answers qmp_capabilities, then sends the input as it is and hangs up. */
    private static void speak(ServerSocketChannel server, byte[] input) {
        try (SocketChannel ch = server.accept()) {
            OutputStream out = Channels.newOutputStream(ch);
            out.write("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n"
                    .getBytes(StandardCharsets.UTF_8));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                    StandardCharsets.UTF_8));
            String id = Json.createReader(new StringReader(in.readLine())).readObject().getString("id");
            out.write(("{\"return\": {}, \"id\": \"" + id + "\"}\r\n").getBytes(StandardCharsets.UTF_8));
            out.write(input);
            out.flush();
        } catch (IOException e) {
            throw new IllegalStateException("the fake QEMU failed: " + e.getMessage(), e);
        }
    }
}

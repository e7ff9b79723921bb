package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.Assume;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The control socket's limits over a real Unix socket: slow, greedy and foreign clients. */
public class ControlListenerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final ControlConnectionTest gogo = new ControlConnectionTest();

    private ControlListenerFixture listener(Duration requestTimeout) throws IOException {
        return new ControlListenerFixture(tmp.getRoot().toPath(), gogo.fakeGogo(), requestTimeout);
    }

    @Test
    public void aHundredSlowClientsDoNotDelayANormalOne() throws Exception {
        List<SocketChannel> slow = new ArrayList<>();
        // A request timeout far beyond the normal client's: the slow ones are all still there while it is served.
        try (ControlListenerFixture f = listener(Duration.ofMinutes(5))) {
            for (int i = 0; i < 100; i++) {
                SocketChannel c = f.connect();
                slow.add(c);
                if (i % 2 == 1) {
                    // Drips the start of a request and never finishes the line.
                    c.write(ByteBuffer.wrap("{\"comm".getBytes(StandardCharsets.UTF_8)));
                }
            }
            for (SocketChannel c : slow.subList(1, 100)) {
                if (slow.indexOf(c) % 2 == 1) {
                    c.write(ByteBuffer.wrap("a".getBytes(StandardCharsets.UTF_8)));
                }
            }
            // The normal client's own timeout: a blocked server fails the test here rather than hanging it.
            List<String> answer = CompletableFuture.supplyAsync(() -> {
                try {
                    return f.exchange("{\"command\":\"say hello\"}");
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }).get(30, TimeUnit.SECONDS);
            assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"exit\":0}"), answer);
            for (SocketChannel c : slow) {
                c.configureBlocking(false);
                assertEquals("a slow client is still connected, with no answer", 0, c.read(ByteBuffer.allocate(1)));
            }
            assertEquals(List.of("say hello"), gogo.executed);
        } finally {
            for (SocketChannel c : slow) {
                c.close();
            }
        }
    }

    @Test
    public void unfinishedAndMalformedRequestsRunNothingAndTakeNoCommandSlot() throws Exception {
        try (ControlListenerFixture f = listener(Duration.ofMinutes(5))) {
            for (int i = 0; i < 2 * ControlListener.MAX_RUNNING; i++) {
                try (SocketChannel c = f.connect()) {
                    c.write(ByteBuffer.wrap("{\"command\":\"say hel".getBytes(StandardCharsets.UTF_8)));
                    c.shutdownOutput();
                    assertEquals(List.of("{\"err\":\"refused: the request line ended without its newline\\n\"}",
                            "{\"exit\":2}"), ControlListenerFixture.readAll(c));
                }
                List<String> malformed = f.exchange("hello");
                assertTrue(malformed.get(0), malformed.get(0).startsWith("{\"err\":\"bad request: not JSON"));
                assertEquals("{\"exit\":2}", malformed.get(1));
            }
            assertEquals(List.of(), gogo.executed);
            assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"exit\":0}"), f.exchange("{\"command\":\"say hello\"}"));
        }
    }

    @Test
    public void aClientThatReadsNoneOfItsAnswerLosesItAndFreesItsSlot() throws Exception {
        try (ControlListenerFixture f = new ControlListenerFixture(tmp.getRoot().toPath(), gogo.fakeGogo(),
                Duration.ofMinutes(1), Duration.ofSeconds(1)); SocketChannel c = f.connect()) {
            c.write(ByteBuffer.wrap("{\"command\":\"flood\"}\n".getBytes(StandardCharsets.UTF_8)));
            // 4 MiB of output against a socket buffer of some hundred KiB: the command waits on this client, which
            // reads nothing until the server has given up on it and closed the connection.
            long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (f.listener.openConnections() == 0 && System.nanoTime() < giveUp) {
                Thread.sleep(10);
            }
            while (f.listener.openConnections() > 0 && System.nanoTime() < giveUp) {
                Thread.sleep(50);
            }
            assertEquals("the server let go of the client", 0, f.listener.openConnections());
            List<String> got = ControlListenerFixture.readAll(c);
            assertTrue("some output came", got.size() > 0);
            assertTrue("not all of it: " + got.size() + " lines", got.size() < 512);
            assertFalse("no exit code after the dropped rest", got.get(got.size() - 1).startsWith("{\"exit\""));
            assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"exit\":0}"), f.exchange("{\"command\":\"say hello\"}"));
        }
    }

    @Test
    public void aClientThatSendsNoWholeLineInTimeIsAnsweredAndClosed() throws Exception {
        try (ControlListenerFixture f = listener(Duration.ofSeconds(1)); SocketChannel c = f.connect()) {
            c.write(ByteBuffer.wrap("{\"command\":\"say".getBytes(StandardCharsets.UTF_8)));
            assertEquals(List.of("{\"err\":\"refused: no request line within 1 s\\n\"}", "{\"exit\":2}"),
                    ControlListenerFixture.readAll(c));
            assertEquals(List.of(), gogo.executed);
        }
    }

    @Test
    public void anOversizeRequestIsRefusedUnrun() throws Exception {
        try (ControlListenerFixture f = listener(Duration.ofMinutes(1)); SocketChannel c = f.connect()) {
            // Just over, with its newline: the whole line arrives at once and is still refused.
            String big = "{\"command\":\"say " + "x".repeat(ControlListener.MAX_REQUEST_BYTES - 16) + "\"}\n";
            c.write(ByteBuffer.wrap(big.getBytes(StandardCharsets.UTF_8)));
            assertEquals(List.of("{\"err\":\"refused: request longer than " + ControlListener.MAX_REQUEST_BYTES
                    + " bytes\\n\"}", "{\"exit\":2}"), ControlListenerFixture.readAll(c));
            assertEquals(List.of(), gogo.executed);
            String atTheLimit = "{\"command\":\"say hello\"}";
            atTheLimit += " ".repeat(ControlListener.MAX_REQUEST_BYTES - atTheLimit.length());
            assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"exit\":0}"), f.exchange(atTheLimit));
        }
    }

    @Test
    public void aFloodBeyondTheCapClosesTheLongestWaitingAndANormalClientIsServed() throws Exception {
        List<SocketChannel> held = new ArrayList<>();
        try (ControlListenerFixture f = listener(Duration.ofMinutes(5))) {
            for (int i = 0; i < 2 * ControlListener.MAX_CONNECTIONS; i++) {
                held.add(f.connect());
            }
            assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"exit\":0}"), f.exchange("{\"command\":\"say hello\"}"));
            assertEquals(List.of("{\"err\":\"refused: too many control connections open ("
                    + ControlListener.MAX_CONNECTIONS + "), and this one sent no request line for the longest\\n\"}",
                    "{\"exit\":2}"), ControlListenerFixture.readAll(held.get(0)));
            assertTrue(f.listener.openConnections() <= ControlListener.MAX_CONNECTIONS);
        } finally {
            for (SocketChannel c : held) {
                c.close();
            }
        }
    }

    @Test
    public void aPeerWithAnotherUidIsRefused() throws Exception {
        Assume.assumeTrue("needs root to run a client as another uid",
                "root".equals(System.getProperty("user.name")));
        Assume.assumeTrue("needs setpriv", Files.isExecutable(Path.of("/usr/bin/setpriv")));
        Assume.assumeTrue("needs python3", Files.isExecutable(Path.of("/usr/bin/python3")));
        try (ControlListenerFixture f = listener(Duration.ofMinutes(1))) {
            // Open the path to everyone, so that only the credentials check stands in the way.
            for (Path p = f.socket.getParent(); p.startsWith(tmp.getRoot().toPath()); p = p.getParent()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx--x--x"));
            }
            Files.setPosixFilePermissions(f.socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            Process client = new ProcessBuilder("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                    "--clear-groups", "/usr/bin/python3", "-c", "import socket,sys\n"
                    + "s=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
                    + "s.sendall(b'{\"command\":\"say hello\"}\\n')\n"
                    + "sys.stdout.write(s.makefile().read())\n", f.socket.toString())
                    .redirectErrorStream(true).start();
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(client.waitFor(30, TimeUnit.SECONDS));
            assertTrue(out, out.startsWith("{\"err\":\"refused: user nobody (group nogroup) may not use this "
                    + "control socket: only root may\\n\"}"));
            assertTrue(out, out.contains("{\"exit\":2}"));
            assertEquals(List.of(), gogo.executed);
        }
    }
}

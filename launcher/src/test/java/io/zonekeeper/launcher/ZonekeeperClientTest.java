package io.zonekeeper.launcher;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * lib/zonekeeper-client, the C client of the control socket, against a scripted peer on a real Unix socket: what
 * it sends, how it prints each kind of frame, its exit status, and when it hands over to the JVM launcher. The
 * real appliance behind it is launcher/src/test/sh/distribution-test's part.
 */
public class ZonekeeperClientTest {

    private static final Path CLIENT = Path.of("target/native/zonekeeper-client");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path state;
    private ServerSocketChannel server;
    /** Threads of their own for the peer and the client's pipes, which block (the common pool may have one). */
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @Before
    public void listen() throws IOException {
        state = tmp.getRoot().toPath();
        Files.createDirectories(state.resolve("run"));
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(state.resolve("run/control.sock")));
    }

    @After
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }

    /** What the client printed and returned, and the lines the peer received. */
    record Run(int exit, byte[] out, String err, List<String> received) {
        String outText() {
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    /** Runs the client with {@code args}; the peer reads the request (and input lines), then writes {@code answer}. */
    private Run run(byte[] stdin, String answer, int inputLines, String... args) throws Exception {
        CompletableFuture<List<String>> peer = CompletableFuture.supplyAsync(() -> {
            try (SocketChannel c = server.accept()) {
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c),
                        StandardCharsets.UTF_8));
                List<String> lines = new ArrayList<>();
                for (int i = 0; i <= inputLines; i++) {
                    lines.add(in.readLine());
                }
                OutputStream out = Channels.newOutputStream(c);
                out.write(answer.getBytes(StandardCharsets.UTF_8));
                out.flush();
                return lines;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, threads);
        Run r = runClient(stdin, args);
        return new Run(r.exit, r.out, r.err, peer.get(10, TimeUnit.SECONDS));
    }

    private Run runClient(byte[] stdin, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(CLIENT.toAbsolutePath().toString(), "/nonexistent-default"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).start();
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()), threads);
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()), threads);
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin);
        } catch (IOException e) {
            // the client does not read stdin for this command
        }
        assertTrue("the client did not finish", p.waitFor(20, TimeUnit.SECONDS));
        return new Run(p.exitValue(), out.get(), new String(err.get(), StandardCharsets.UTF_8), List.of());
    }

    private static byte[] readAll(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private String[] against(String command) {
        return new String[] {"4", "--state", state.toString(), "-c", command};
    }

    @Test
    public void printsEveryKindOfOutputFrameAndExitsWithTheCommandsStatus() throws Exception {
        byte[] binary = {0, (byte) 0xff, 10, 13, (byte) 0x80};
        String answer = "{\"out\":\"plain \\\"quoted\\\"\\ttab\\u00e9 \\ud83d\\ude00\\n\"}\n"
                + "{\"err\":\"warned\\n\"}\n"
                + "{\"outb\":\"" + Base64.getEncoder().encodeToString(binary) + "\"}\n"
                + "{\"errb\":\"" + Base64.getEncoder().encodeToString("raw".getBytes(StandardCharsets.UTF_8))
                + "\"}\n{\"exit\":3}\n";
        Run r = run(new byte[0], answer, 0, "4", "--state", state.toString(), "-c", "zone:list \"a\\b\"\n\tx é");
        assertEquals(3, r.exit);
        assertEquals("{\"command\":\"zone:list \\\"a\\\\b\\\"\\u000a\\u0009x é\"}", r.received.get(0));
        ByteArrayOutputStream want = new ByteArrayOutputStream();
        want.write("plain \"quoted\"\ttabé \uD83D\uDE00\n".getBytes(StandardCharsets.UTF_8));
        want.write(binary);
        assertArrayEquals(want.toByteArray(), r.out);
        assertEquals("warned\nraw", r.err);
    }

    @Test
    public void zoneExecSendsStdinAsInputFramesThenItsEnd() throws Exception {
        byte[] input = new byte[70_000];
        for (int i = 0; i < input.length; i++) {
            input[i] = (byte) (i * 31);
        }
        // 70000 bytes go in pieces of at most 32 KiB: three input lines, then the end.
        Run r = run(input, "{\"exit\":0}\n", 4, "4", "--state", state.toString(), "-c", "zone:exec z -- cat");
        assertEquals(r.err, 0, r.exit);
        assertEquals("{\"command\":\"zone:exec z -- cat\",\"stdin\":true,\"binary\":true}", r.received.get(0));
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        for (String line : r.received.subList(1, 4)) {
            assertTrue(line, line.startsWith("{\"in\":\"") && line.endsWith("\"}"));
            sent.write(Base64.getDecoder().decode(line.substring(7, line.length() - 2)));
        }
        assertArrayEquals(input, sent.toByteArray());
        assertEquals("{\"eof\":true}", r.received.get(4));
    }

    @Test
    public void otherCommandsKeepProtocolOneAndLeaveStdinAlone() throws Exception {
        Run r = run("not for the appliance".getBytes(StandardCharsets.UTF_8), "{\"exit\":0}\n", 0,
                "2", "--command=echo zone:exec", "--state=" + state);
        assertEquals(0, r.exit);
        assertEquals("{\"command\":\"echo zone:exec\"}", r.received.get(0));
    }

    @Test
    public void anUnknownFrameIsAnErrorThatShowsIt() throws Exception {
        Run r = run(new byte[0], "{\"out\":\"before\"}\n{\"resize\":\"24x80\"}\n{\"exit\":0}\n", 0,
                against("zone:list"));
        assertEquals(1, r.exit);
        assertEquals("before", r.outText());
        assertTrue(r.err, r.err.contains("a line this client does not understand (an unknown frame member; this "
                + "client speaks control protocol 1 and 2): {\"resize\":\"24x80\"}"));
    }

    @Test
    public void anAnswerThatEndsWithoutAnExitIsAnError() throws Exception {
        Run r = run(new byte[0], "{\"out\":\"partial\"}\n", 0, against("zone:list"));
        assertEquals(1, r.exit);
        assertEquals("partial", r.outText());
        assertTrue(r.err, r.err.contains("closed the connection before the command finished"));
    }

    @Test
    public void withoutAnApplianceItRunsTheFallbackWithTheArguments() throws Exception {
        server.close();
        Files.delete(state.resolve("run/control.sock"));
        Run r = runClient(new byte[0], "4", "--state", state.toString(), "-c", "zone:list", "echo", "jvm:");
        assertEquals(0, r.exit);
        assertEquals("jvm: --state " + state + " -c zone:list\n", r.outText());

        Run none = runClient(new byte[0], "4", "--state", state.toString(), "-c", "zone:list");
        assertEquals(1, none.exit);
        assertEquals("zonekeeper: no appliance answers on " + state + "/run/control.sock\n", none.err);
    }

    @Test
    public void argumentsItDoesNotHandleGoToTheFallbackUnchanged() throws Exception {
        for (String[] args : List.of(new String[] {"--help"}, new String[] {"--no-shell"},
                new String[] {"-c", "a", "-c", "b"}, new String[] {"-c", " "}, new String[] {"-c"},
                new String[] {"--state", state.toString()})) {
            List<String> call = new ArrayList<>(List.of(Integer.toString(args.length)));
            call.addAll(List.of(args));
            call.addAll(List.of("echo", "jvm:"));
            Run r = runClient(new byte[0], call.toArray(String[]::new));
            assertEquals(0, r.exit);
            assertEquals("jvm: " + String.join(" ", args) + "\n", r.outText());
        }
    }
}

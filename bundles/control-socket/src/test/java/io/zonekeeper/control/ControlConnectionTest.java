package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import jakarta.json.spi.JsonProvider;

/** The protocol over a real Unix socket, with a stand-in for Gogo that knows a handful of commands. */
public class ControlConnectionTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final List<String> executed = new CopyOnWriteArrayList<>();
    private final List<String> closed = new CopyOnWriteArrayList<>();

    @Test
    public void streamsOutputAndShowsResultsOfEveryStatementThenExitZero() throws Exception {
        assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"out\":\"42\\n\"}", "{\"err\":\"careful\\n\"}",
                "{\"exit\":0}"), exchange("{\"command\":\"say hello; answer; warn\"}"));
        assertEquals(List.of("say hello", "answer", "warn"), executed);
        assertEquals("every session is closed", 1, closed.size());
    }

    @Test
    public void aFailingCommandStopsTheScriptWithItsMessageAndExitOne() throws Exception {
        assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"err\":\"no zone named web\\n\"}", "{\"exit\":1}"),
                exchange("{\"command\":\"say hello; fail; say never\"}"));
        assertEquals(List.of("say hello", "fail"), executed);
        assertEquals(1, closed.size());
    }

    @Test
    public void aRequestThatIsNotTheProtocolGetsExitTwo() throws Exception {
        List<String> answer = exchange("zone:list");
        assertTrue(answer.get(0), answer.get(0).startsWith("{\"err\":\"bad request: not JSON"));
        assertEquals("{\"exit\":2}", answer.get(1));
        assertEquals(List.of("{\"err\":\"bad request: expected a string member \\\"command\\\"\\n\"}", "{\"exit\":2}"),
                exchange("{\"cmd\":\"lb\"}"));
        assertEquals(List.of(), executed);
    }

    private List<String> exchange(String request) throws Exception {
        Path socket = ControlSocketBinder.socketPath(tmp.getRoot().toPath());
        try (ServerSocketChannel server = new ControlSocketBinder(socket).bind()) {
            Thread serving = new Thread(() -> {
                try (SocketChannel c = server.accept()) {
                    new ControlConnection(c, fakeGogo(), JsonProvider.provider()).run();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            serving.start();
            List<String> lines = new ArrayList<>();
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                client.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                        StandardCharsets.UTF_8));
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            }
            serving.join(5000);
            socket.toFile().delete();
            return lines;
        }
    }

    private CommandProcessor fakeGogo() {
        return (CommandProcessor) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {CommandProcessor.class}, (p, method, args) -> {
                    if (method.getName().equals("createSession") && args.length == 3) {
                        return fakeSession((OutputStream) args[1], (OutputStream) args[2]);
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    private CommandSession fakeSession(OutputStream out, OutputStream err) {
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        return (CommandSession) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {CommandSession.class}, (p, method, args) -> {
                    switch (method.getName()) {
                        case "execute": {
                            String command = args[0].toString();
                            executed.add(command);
                            switch (command) {
                                case "say hello": o.println("hello"); return null;
                                case "answer": return 42;
                                case "warn": e.println("careful"); return null;
                                case "fail": throw new IllegalArgumentException("no zone named web");
                                default: throw new IllegalStateException("Command not found: " + command);
                            }
                        }
                        case "format": return String.valueOf(args[0]);
                        case "close": closed.add("closed"); return null;
                        default: throw new UnsupportedOperationException(method.getName());
                    }
                });
    }
}

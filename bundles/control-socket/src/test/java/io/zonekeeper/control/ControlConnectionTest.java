package io.zonekeeper.control;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;


/** The protocol over a real Unix socket, with a stand-in for Gogo that knows a handful of commands. */
public class ControlConnectionTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    final List<String> executed = new CopyOnWriteArrayList<>();
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
        assertEquals(List.of("{\"err\":\"bad request: cmd: unknown field; known: command, stdin, binary, winsize\\n\"}", "{\"exit\":2}"),
                exchange("{\"cmd\":\"lb\"}"));
        assertEquals(List.of("{\"err\":\"bad request: expected a string member \\\"command\\\"\\n\"}", "{\"exit\":2}"),
                exchange("{\"command\":" + "[".repeat(20_000) + "]".repeat(20_000) + "}"));
        assertEquals(List.of(), executed);
    }

    @Test
    public void aCommandsOwnExitStatusEndsTheScriptWithIt() throws Exception {
        assertEquals(List.of("{\"exit\":7}"), exchange("{\"command\":\"exit7; say never\"}"));
        assertEquals(List.of("exit7"), executed);
        executed.clear();
        assertEquals(List.of("{\"out\":\"hello\\n\"}", "{\"exit\":0}"),
                exchange("{\"command\":\"exit0; say hello\"}"));
    }

    @Test
    public void stdinStreamsInAndBinaryOutputComesBackByteForByte() throws Exception {
        byte[] all = new byte[256];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) i;
        }
        String b64 = Base64.getEncoder().encodeToString(all);
        List<String> answer = exchange("{\"command\":\"cat\",\"stdin\":true,\"binary\":true}\n{\"in\":\"" + b64
                + "\"}\n{\"in\":\"" + b64 + "\"}\n{\"signal\":2}\n{\"eof\":true}");
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        for (String l : answer.subList(0, answer.size() - 1)) {
            assertTrue(l, l.startsWith("{\"outb\":\""));
            got.write(Base64.getDecoder().decode(l.substring(9, l.length() - 2)));
        }
        assertEquals("{\"exit\":0}", answer.get(answer.size() - 1));
        byte[] twice = new byte[512];
        System.arraycopy(all, 0, twice, 0, 256);
        System.arraycopy(all, 0, twice, 256, 256);
        assertArrayEquals(twice, got.toByteArray());
    }

    @Test
    public void aMalformedInputLineEndsStdinButNotTheCommand() throws Exception {
        assertEquals(List.of("{\"exit\":0}"),
                exchange("{\"command\":\"cat\",\"stdin\":true}\n{\"in\":5}\n{\"in\":\"aGVsbG8=\"}\n{\"eof\":true}"));
        assertEquals(List.of("cat"), executed);
        assertEquals(List.of("{\"err\":\"bad request: stdin: expected true or false\\n\"}", "{\"exit\":2}"),
                exchange("{\"command\":\"cat\",\"stdin\":1}"));
    }

    private List<String> exchange(String request) throws Exception {
        try (ControlListenerFixture f = new ControlListenerFixture(tmp.getRoot().toPath(), fakeGogo(),
                ControlSocketServer.REQUEST_TIMEOUT)) {
            return f.exchange(request);
        }
    }

    CommandProcessor fakeGogo() {
        return (CommandProcessor) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {CommandProcessor.class}, (p, method, args) -> {
                    if (method.getName().equals("createSession") && args.length == 3) {
                        return fakeSession((InputStream) args[0], (OutputStream) args[1], (OutputStream) args[2]);
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    private CommandSession fakeSession(InputStream in, OutputStream out, OutputStream err) {
        Map<String, Object> vars = new ConcurrentHashMap<>();
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
                                case "flood":
                                    for (int i = 0; i < 512; i++) {
                                        o.println("y".repeat(8191));
                                    }
                                    return null;
                                case "warn": e.println("careful"); return null;
                                case "exit7": vars.put(ControlConnection.EXIT_STATUS, 7); return null;
                                case "exit0": vars.put(ControlConnection.EXIT_STATUS, 0); return null;
                                case "cat": o.write(in.readAllBytes()); o.flush(); return null;
                                case "fail": throw new IllegalArgumentException("no zone named web");
                                default: throw new IllegalStateException("Command not found: " + command);
                            }
                        }
                        case "format": return String.valueOf(args[0]);
                        case "close": closed.add("closed"); return null;
                        case "put":
                            if (args[1] == null) {
                                vars.remove(args[0]);
                            } else {
                                vars.put((String) args[0], args[1]);
                            }
                            return null;
                        case "get": return vars.get(args[0]);
                        default: throw new UnsupportedOperationException(method.getName());
                    }
                });
    }
}

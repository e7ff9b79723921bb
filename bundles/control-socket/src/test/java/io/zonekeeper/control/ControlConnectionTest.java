package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.List;
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
        assertEquals(List.of("{\"err\":\"bad request: cmd: unknown field; known: command\\n\"}", "{\"exit\":2}"),
                exchange("{\"cmd\":\"lb\"}"));
        assertEquals(List.of("{\"err\":\"bad request: expected a string member \\\"command\\\"\\n\"}", "{\"exit\":2}"),
                exchange("{\"command\":" + "[".repeat(20_000) + "]".repeat(20_000) + "}"));
        assertEquals(List.of(), executed);
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
                                case "flood":
                                    for (int i = 0; i < 512; i++) {
                                        o.println("y".repeat(8191));
                                    }
                                    return null;
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

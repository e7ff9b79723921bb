package io.zonekeeper.control;

import java.io.ByteArrayInputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.NoSuchElementException;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;

import jakarta.json.JsonException;
import jakarta.json.spi.JsonProvider;
import jakarta.json.stream.JsonParser;

/**
 * One request of the control socket: runs its command line in a fresh Gogo session, and streams what the session
 * writes back as JSON lines, then the exit code.
 */
final class ControlConnection {

    /** The command ran and returned. */
    static final int EXIT_OK = 0;
    /** The command threw: its message went to err. */
    static final int EXIT_FAILED = 1;
    /** The request was not a JSON object with a "command" string. */
    static final int EXIT_BAD_REQUEST = 2;
    /**
     * Session variable a command sets to an Integer exit status of its own (zone:exec: the status of the command it
     * ran in a zone); non-zero ends the request with it. A contract by name only: this bundle imports no
     * Zonekeeper package.
     */
    static final String EXIT_STATUS = "zonekeeper.exit.status";
    /** Session variable: the client's terminal size, ROWSxCOLS. */
    static final String WINSIZE = "zonekeeper.winsize";

    private final WritableByteChannel channel;
    private final CommandProcessor processor;
    private final JsonProvider json;

    ControlConnection(WritableByteChannel channel, CommandProcessor processor, JsonProvider json) {
        this.channel = channel;
        this.processor = processor;
        this.json = json;
    }

    /** Runs {@code command}, the command line of a request already parsed by {@link #parseCommand}. */
    void run(String command) {
        run(new Request(command, false, false, null), null);
    }

    /** Runs a request; {@code input} is the client's stdin when the request asked to send it, else null. */
    void run(Request request, ControlInput input) {
        FrameWriter frames = new FrameWriter(channel, json);
        frames.writeExit(execute(request, input, frames));
    }

    private int execute(Request request, ControlInput input, FrameWriter frames) {
        String command = request.command();
        FrameOutputStream out = new FrameOutputStream(frames, "out", request.binary());
        FrameOutputStream err = new FrameOutputStream(frames, "err", request.binary());
        CommandSession session = processor.createSession(input != null ? input : new ByteArrayInputStream(
                new byte[0]), out, err);
        if (input != null) {
            input.attach(session);
        }
        if (request.winsize() != null) {
            session.put(WINSIZE, request.winsize());
        }
        int exit;
        int exitStatus = EXIT_OK;
        try {
            PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
            // Like a script run with "set -e": each statement in turn, stopping at the first that fails.
            for (String statement : CommandScript.statements(command)) {
                session.put(EXIT_STATUS, null);
                Object result = session.execute(statement);
                if (result != null) {
                    // As gosh does: show what a command returned, formatted for people.
                    print.println(session.format(result, Converter.INSPECT));
                    print.flush();
                }
                // A command that ran a program elsewhere (zone:exec) reports the program's status here: a non-zero
                // one ends the script with it, as a failing command in a shell script under set -e.
                if (session.get(EXIT_STATUS) instanceof Integer status && status != 0) {
                    exitStatus = status;
                    break;
                }
            }
            exit = exitStatus;
        } catch (Exception e) {
            out.flush();
            String message = e.getMessage() != null ? e.getMessage() : e.getClass().getName();
            frames.write("err", message.endsWith("\n") ? message : message + "\n");
            exit = EXIT_FAILED;
        } finally {
            session.close();
        }
        out.flush();
        err.flush();
        return exit;
    }

    /** The command line of a request (protocol 1's only member). */
    static String parseCommand(String line, JsonProvider json) {
        return parseRequest(line, json).command();
    }

    /**
     * A request. Protocol 1: {@code command}. Protocol 2 adds, all optional: {@code stdin} (the client streams its
     * stdin after the request line, see {@link ControlInput}), {@code binary} (stdout and stderr come back as base64
     * {@code outb}/{@code errb} frames, byte for byte) and {@code winsize} ({@code "ROWSxCOLS"}).
     */
    record Request(String command, boolean stdin, boolean binary, String winsize) {
    }

    /**
     * A request line, read with the streaming parser: the request is flat, so anything nested, and any unknown
     * member, is refused before a tree is built.
     */
    static Request parseRequest(String line, JsonProvider json) {
        String command = null;
        boolean stdin = false;
        boolean binary = false;
        String winsize = null;
        try (JsonParser parser = json.createParser(new StringReader(line))) {
            if (!parser.hasNext() || parser.next() != JsonParser.Event.START_OBJECT) {
                throw new IllegalArgumentException("expected a JSON object {\"command\":\"...\"}");
            }
            for (JsonParser.Event e = parser.next(); e != JsonParser.Event.END_OBJECT; e = parser.next()) {
                String key = parser.getString();
                JsonParser.Event v = parser.next();
                switch (key) {
                    case "command" -> {
                        if (v != JsonParser.Event.VALUE_STRING) {
                            throw new IllegalArgumentException("expected a string member \"command\"");
                        }
                        command = parser.getString();
                    }
                    case "stdin", "binary" -> {
                        if (v != JsonParser.Event.VALUE_TRUE && v != JsonParser.Event.VALUE_FALSE) {
                            throw new IllegalArgumentException(key + ": expected true or false");
                        }
                        if (key.equals("stdin")) {
                            stdin = v == JsonParser.Event.VALUE_TRUE;
                        } else {
                            binary = v == JsonParser.Event.VALUE_TRUE;
                        }
                    }
                    case "winsize" -> {
                        if (v != JsonParser.Event.VALUE_STRING || !parser.getString().matches("\\d{1,5}x\\d{1,5}")) {
                            throw new IllegalArgumentException("winsize: expected \"ROWSxCOLS\"");
                        }
                        winsize = parser.getString();
                    }
                    default -> throw new IllegalArgumentException(key
                            + ": unknown field; known: command, stdin, binary, winsize");
                }
            }
            if (parser.hasNext()) {
                parser.next();
                throw new IllegalArgumentException("expected one JSON object on the line, found more");
            }
        } catch (JsonException | NoSuchElementException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage());
        }
        if (command == null) {
            throw new IllegalArgumentException("expected a string member \"command\"");
        }
        return new Request(command, stdin, binary, winsize);
    }
}

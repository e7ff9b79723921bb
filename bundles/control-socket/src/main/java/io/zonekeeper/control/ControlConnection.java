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
        FrameWriter frames = new FrameWriter(channel, json);
        frames.writeExit(execute(command, frames));
    }

    private int execute(String command, FrameWriter frames) {
        FrameOutputStream out = new FrameOutputStream(frames, "out");
        FrameOutputStream err = new FrameOutputStream(frames, "err");
        CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, err);
        int exit;
        try {
            PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
            // Like a script run with "set -e": each statement in turn, stopping at the first that fails.
            for (String statement : CommandScript.statements(command)) {
                Object result = session.execute(statement);
                if (result != null) {
                    // As gosh does: show what a command returned, formatted for people.
                    print.println(session.format(result, Converter.INSPECT));
                    print.flush();
                }
            }
            exit = EXIT_OK;
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

    /**
     * The command line of a request {@code {"command":"..."}}, read with the streaming parser: the request is flat,
     * so anything nested, and any other member, is refused before a tree is built.
     */
    static String parseCommand(String line, JsonProvider json) {
        String command = null;
        try (JsonParser parser = json.createParser(new StringReader(line))) {
            if (!parser.hasNext() || parser.next() != JsonParser.Event.START_OBJECT) {
                throw new IllegalArgumentException("expected a JSON object {\"command\":\"...\"}");
            }
            for (JsonParser.Event e = parser.next(); e != JsonParser.Event.END_OBJECT; e = parser.next()) {
                String key = parser.getString();
                if (!key.equals("command")) {
                    throw new IllegalArgumentException(key + ": unknown field; known: command");
                }
                if (parser.next() != JsonParser.Event.VALUE_STRING) {
                    throw new IllegalArgumentException("expected a string member \"command\"");
                }
                command = parser.getString();
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
        return command;
    }
}

package io.zonekeeper.control;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;

import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.spi.JsonProvider;

/**
 * One client of the control socket: reads its request line, runs the command line in a fresh Gogo session, and
 * streams what the session writes back as JSON lines, then the exit code.
 */
final class ControlConnection {

    /** The command ran and returned. */
    static final int EXIT_OK = 0;
    /** The command threw: its message went to err. */
    static final int EXIT_FAILED = 1;
    /** The request was not a JSON object with a "command" string. */
    static final int EXIT_BAD_REQUEST = 2;

    static final int MAX_REQUEST_BYTES = 1 << 20;

    private final ByteChannel channel;
    private final CommandProcessor processor;
    private final JsonProvider json;

    ControlConnection(ByteChannel channel, CommandProcessor processor, JsonProvider json) {
        this.channel = channel;
        this.processor = processor;
        this.json = json;
    }

    void run() throws IOException {
        String line = readRequestLine(channel);
        if (line == null) {
            // A liveness probe: connected and went away without a request.
            return;
        }
        FrameWriter frames = new FrameWriter(channel, json);
        String command;
        try {
            command = parseCommand(line, json);
        } catch (IllegalArgumentException e) {
            frames.write("err", "bad request: " + e.getMessage() + "\n");
            frames.writeExit(EXIT_BAD_REQUEST);
            return;
        }
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

    /** Reads up to the first newline; null when the peer closed without sending anything. */
    static String readRequestLine(ReadableByteChannel channel) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        while (true) {
            buffer.clear();
            int n = channel.read(buffer);
            if (n < 0) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
            }
            for (int i = 0; i < n; i++) {
                byte b = buffer.get(i);
                if (b == '\n') {
                    return line.toString(StandardCharsets.UTF_8);
                }
                line.write(b);
            }
            if (line.size() > MAX_REQUEST_BYTES) {
                throw new IOException("request longer than " + MAX_REQUEST_BYTES + " bytes");
            }
        }
    }

    /** The command line of a request {@code {"command":"..."}}. */
    static String parseCommand(String line, JsonProvider json) {
        JsonValue value;
        try (var reader = json.createReader(new StringReader(line))) {
            value = reader.readValue();
        } catch (JsonException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage());
        }
        if (!(value instanceof JsonObject)) {
            throw new IllegalArgumentException("expected a JSON object {\"command\":\"...\"}");
        }
        JsonValue command = ((JsonObject) value).get("command");
        if (!(command instanceof JsonString)) {
            throw new IllegalArgumentException("expected a string member \"command\"");
        }
        return ((JsonString) command).getString();
    }
}

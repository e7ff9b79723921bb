package io.zonekeeper.control;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;

import jakarta.json.spi.JsonProvider;

/**
 * A control-socket request, fed any bytes a local client can send: the first line (at most
 * {@link ControlListener#MAX_REQUEST_BYTES}, as the listener cuts it) goes to {@link ControlConnection#parseCommand}
 * and the command it yields to {@link CommandScript#statements}. parseCommand runs on the listener's selector
 * thread, which serves every client: its contract is a command or an {@link IllegalArgumentException} (answered
 * as a bad request), and anything else would end the listener for everyone. statements must always give at least
 * one statement and never throw. The corpus and every crash found are kept under
 * {@code ControlRequestFuzzTestInputs/controlRequest}.
 */
class ControlRequestFuzzTest {
    private static final JsonProvider JSON = JsonProvider.provider();

    @FuzzTest(maxDuration = "10m")
    void controlRequest(byte[] input) {
        int end = 0;
        while (end < input.length && end < ControlListener.MAX_REQUEST_BYTES && input[end] != '\n') {
            end++;
        }
        String line = new String(input, 0, end, StandardCharsets.UTF_8);
        String command;
        try {
            command = ControlConnection.parseCommand(line, JSON);
        } catch (IllegalArgumentException badRequest) {
            assertNotNull(badRequest.getMessage());
            return;
        }
        List<String> statements = CommandScript.statements(command);
        assertFalse(statements.isEmpty(), "no statement for " + command);
    }
}

package io.zonekeeper.control;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;

import jakarta.json.spi.JsonProvider;

/**
 * Writes the answer's JSON lines to the client; out and err share it, so each line goes out whole. A client
 * that went away does not stop the command: its remaining output is dropped.
 */
final class FrameWriter {

    private static final Logger LOG = System.getLogger("io.zonekeeper.control");

    private final WritableByteChannel channel;
    private final JsonProvider json;
    private boolean gone;

    FrameWriter(WritableByteChannel channel, JsonProvider json) {
        this.channel = channel;
        this.json = json;
    }

    synchronized void write(String stream, String text) {
        send(json.createObjectBuilder().add(stream, text).build().toString());
    }

    synchronized void writeExit(int code) {
        send(json.createObjectBuilder().add("exit", code).build().toString());
    }

    private void send(String frame) {
        if (gone) {
            return;
        }
        ByteBuffer bytes = ByteBuffer.wrap((frame + "\n").getBytes(StandardCharsets.UTF_8));
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } catch (IOException e) {
            gone = true;
            LOG.log(Level.DEBUG, "Control client went away; dropping the rest of its output: " + e.getMessage());
        }
    }
}

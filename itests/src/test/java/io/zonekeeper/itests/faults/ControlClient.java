package io.zonekeeper.itests.faults;

import java.io.IOException;
import java.io.StringReader;
import java.net.SocketTimeoutException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import jakarta.json.Json;
import jakarta.json.JsonObject;

/**
 * Runs one command line on a running appliance over its control socket, in the protocol {@code bin/zonekeeper -c}
 * speaks (a JSON request line; JSON lines of "out", "err" and a last "exit"), without a JVM per command: the fault
 * sweeps issue thousands of them.
 */
public final class ControlClient {
    /** What a command printed and its exit code; code -1 when the appliance went away before answering. */
    public record Answer(int code, String out, String err) {
        public boolean ok() {
            return code == 0;
        }
    }

    private static final ExecutorService READERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "control-client");
        t.setDaemon(true);
        return t;
    });

    private final Path socket;

    public ControlClient(Path stateDir) {
        this.socket = stateDir.resolve("run/control.sock");
    }

    public Answer run(String command, Duration limit) throws IOException {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        Future<Answer> answer = READERS.submit(() -> exchange(ch, command));
        try {
            return answer.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new SocketTimeoutException("no answer to '" + command + "' within " + limit.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException(e.getCause());
        } finally {
            ch.close();
        }
    }

    private static Answer exchange(SocketChannel ch, String command) throws IOException {
        String request = Json.createObjectBuilder().add("command", command).build() + "\n";
        ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        var reader = new java.io.BufferedReader(Channels.newReader(ch, StandardCharsets.UTF_8));
        Integer code;
        while ((code = frame(reader, out, err)) == null) {
            // more output
        }
        return new Answer(code, out.toString(), err.toString());
    }

    /**
     * Reads one answer frame: its "out" or "err" text is appended and null returned, or the exit code of an "exit"
     * frame is returned; -1 when the appliance closed the connection without one.
     */
    static Integer frame(java.io.BufferedReader reader, StringBuilder out, StringBuilder err) throws IOException {
        String line = reader.readLine();
        if (line == null) {
            return -1;
        }
        JsonObject frame = Json.createReader(new StringReader(line)).readObject();
        if (frame.containsKey("out")) {
            out.append(frame.getString("out"));
        } else if (frame.containsKey("err")) {
            err.append(frame.getString("err"));
        } else if (frame.containsKey("exit")) {
            return frame.getInt("exit");
        }
        return null;
    }
}

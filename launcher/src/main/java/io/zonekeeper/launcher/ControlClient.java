package io.zonekeeper.launcher;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.StringReader;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import jakarta.json.JsonException;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.spi.JsonProvider;

/**
 * The client side of the control socket: sends {@code {"command":"..."}} as one line and copies the answer's
 * {@code {"out":..}} and {@code {"err":..}} lines to stdout and stderr as they arrive, until {@code {"exit":N}}.
 */
final class ControlClient {

    private final JsonProvider json = JsonProvider.provider();

    /** Where the appliance with this state directory listens; the control-socket bundle uses the same path. */
    static Path socketPath(Path stateDir) {
        return stateDir.resolve("run").resolve("control.sock");
    }

    /** True when a process accepts connections on the socket. */
    static boolean answers(Path socket) {
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (ConnectException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Runs a command line on the appliance listening on {@code socket}.
     *
     * @return the command's exit code
     * @throws LaunchException when the appliance cannot be reached or breaks off before the exit code
     */
    int run(Path socket, String commands, PrintStream out, PrintStream err) throws LaunchException {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(socket));
            // zone:exec runs a program in a zone: its stdin goes along and its output comes back byte for byte
            // (protocol 2). Other commands keep protocol 1, so they never take the caller's stdin.
            boolean exec = streamsStdin(commands);
            var req = json.createObjectBuilder().add("command", commands);
            if (exec) {
                req.add("stdin", true).add("binary", true);
            }
            String request = req.build().toString() + "\n";
            ByteBuffer bytes = ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8));
            try {
                while (bytes.hasRemaining()) {
                    channel.write(bytes);
                }
            } catch (IOException e) {
                // The appliance may have refused us before reading (credentials, limits) and closed: its reason
                // is still there to read, and says more than "broken pipe".
                if (!channel.isOpen()) {
                    throw e;
                }
            }
            if (exec) {
                forwardStdin(channel);
            }
            BufferedReader answer = new BufferedReader(
                    new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            String line;
            while ((line = answer.readLine()) != null) {
                Integer exit = frame(line, out, err);
                if (exit != null) {
                    return exit;
                }
            }
            throw new LaunchException("the appliance on " + socket + " closed the connection before the "
                    + "command finished (did it stop?)");
        } catch (IOException e) {
            throw new LaunchException("cannot talk to the appliance on " + socket + ": " + e.getMessage(), e);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** Whether a command line runs zone:exec, whose program reads the caller's stdin. */
    static boolean streamsStdin(String commands) {
        return commands.matches("(?s).*(^|[\\s;])zone:exec\\s.*");
    }

    /**
     * Sends System.in as {@code {"in":BASE64}} lines, then {@code {"eof":true}}, from a daemon thread; SIGINT and
     * SIGTERM of this client go to the appliance as {@code {"signal":N}} for the running program instead of ending
     * the client (the program's exit ends it).
     */
    private void forwardStdin(SocketChannel channel) {
        Object lock = new Object();
        for (var sig : new String[] {"INT", "TERM"}) {
            int number = sig.equals("INT") ? 2 : 15;
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> send(channel, lock,
                        json.createObjectBuilder().add("signal", number).build().toString()));
            } catch (IllegalArgumentException e) {
                // this JVM does not let us handle it: the default stays
            }
        }
        Thread t = new Thread(() -> {
            byte[] buf = new byte[32768];
            try {
                int n;
                while ((n = System.in.read(buf)) >= 0) {
                    if (n > 0) {
                        send(channel, lock, json.createObjectBuilder().add("in",
                                java.util.Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buf, n)))
                                .build().toString());
                    }
                }
                send(channel, lock, "{\"eof\":true}");
            } catch (IOException e) {
                // stdin or the appliance went away: the answer loop says which
            }
        }, "zonekeeper-stdin");
        t.setDaemon(true);
        t.start();
    }

    private static void send(SocketChannel channel, Object lock, String line) {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        synchronized (lock) {
            try {
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            } catch (IOException e) {
                // the command ended and the appliance closed the connection
            }
        }
    }

    /** Prints one answer line; returns the exit code when the line is the last one. */
    private Integer frame(String line, PrintStream out, PrintStream err) throws LaunchException {
        JsonObject frame;
        try (var reader = json.createReader(new StringReader(line))) {
            frame = reader.readObject();
        } catch (JsonException | ClassCastException e) {
            throw new LaunchException("the appliance answered something that is not the control protocol: "
                    + line);
        }
        JsonValue exit = frame.get("exit");
        if (exit instanceof JsonNumber) {
            return ((JsonNumber) exit).intValue();
        }
        if (frame.get("out") instanceof JsonString) {
            out.print(frame.getString("out"));
            out.flush();
        }
        if (frame.get("err") instanceof JsonString) {
            err.print(frame.getString("err"));
            err.flush();
        }
        try {
            if (frame.get("outb") instanceof JsonString) {
                byte[] b = java.util.Base64.getDecoder().decode(frame.getString("outb"));
                out.write(b, 0, b.length);
                out.flush();
            }
            if (frame.get("errb") instanceof JsonString) {
                byte[] b = java.util.Base64.getDecoder().decode(frame.getString("errb"));
                err.write(b, 0, b.length);
                err.flush();
            }
        } catch (IllegalArgumentException e) {
            throw new LaunchException("the appliance sent output that is not base64: " + line);
        }
        return null;
    }
}

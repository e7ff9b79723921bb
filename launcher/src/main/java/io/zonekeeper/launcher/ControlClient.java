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
            String request = json.createObjectBuilder().add("command", commands).build().toString() + "\n";
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
        return null;
    }
}

package io.zonekeeper.control;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.apache.felix.service.command.CommandProcessor;

import jakarta.json.spi.JsonProvider;

/** A real control socket in a test folder, served by a {@link ControlListener} for this process's own user. */
final class ControlListenerFixture implements AutoCloseable {
    final Path socket;
    final ControlListener listener;

    ControlListenerFixture(Path stateDir, CommandProcessor processor, Duration requestTimeout) throws IOException {
        this(stateDir, processor, requestTimeout, Duration.ofSeconds(5));
    }

    ControlListenerFixture(Path stateDir, CommandProcessor processor, Duration requestTimeout, Duration writeStall)
            throws IOException {
        socket = ControlSocketBinder.socketPath(stateDir);
        ServerSocketChannel server = new ControlSocketBinder(socket).bind();
        PeerPolicy peers = PeerPolicy.of(FileSystems.getDefault().getUserPrincipalLookupService(),
                Files.getOwner(socket), null, Path.of("/etc/group"));
        listener = new ControlListener(server, peers, processor, JsonProvider.provider(), requestTimeout,
                writeStall);
        listener.start();
    }

    SocketChannel connect() throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(socket));
    }

    /** Sends {@code request} as one line and reads every line of the answer, up to the server's close. */
    List<String> exchange(String request) throws IOException {
        try (SocketChannel client = connect()) {
            client.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
            return readAll(client);
        }
    }

    static List<String> readAll(SocketChannel client) throws IOException {
        List<String> lines = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            lines.add(line);
        }
        return lines;
    }

    @Override
    public void close() throws IOException {
        listener.close();
        Files.deleteIfExists(socket);
    }
}

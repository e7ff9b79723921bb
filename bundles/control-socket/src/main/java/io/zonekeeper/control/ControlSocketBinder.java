package io.zonekeeper.control;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Claims the control socket path: makes its folder private, replaces a stale socket file that nobody answers on,
 * and refuses to touch one that another appliance still listens on.
 */
final class ControlSocketBinder {

    static final Set<PosixFilePermission> FOLDER_MODE = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> SOCKET_MODE = PosixFilePermissions.fromString("rw-------");
    /** With a control group: its members may enter the folder and open the socket, nobody else. */
    static final Set<PosixFilePermission> GROUP_FOLDER_MODE = PosixFilePermissions.fromString("rwxr-x---");
    static final Set<PosixFilePermission> GROUP_SOCKET_MODE = PosixFilePermissions.fromString("rw-rw----");

    private static final Logger LOG = System.getLogger("io.zonekeeper.control");

    private final Path socket;
    private final GroupPrincipal group;

    ControlSocketBinder(Path socket) {
        this(socket, null);
    }

    /** @param group the group that may use the socket besides its owner, or null for none */
    ControlSocketBinder(Path socket, GroupPrincipal group) {
        this.socket = socket;
        this.group = group;
    }

    /** Where the control socket of the appliance with this state directory lives. */
    static Path socketPath(Path stateDir) {
        return stateDir.resolve("run").resolve("control.sock");
    }

    Path socket() {
        return socket;
    }

    /**
     * Binds and listens on the socket path.
     *
     * @return the listening channel, or null when another process already answers on that path
     */
    ServerSocketChannel bind() throws IOException {
        Path folder = socket.getParent();
        Files.createDirectories(folder);
        // Before the socket exists: the folder's mode is what keeps other users out while the socket file still
        // has the umask's mode, between bind and chmod.
        Files.setPosixFilePermissions(folder, FOLDER_MODE);
        if (group != null) {
            Files.getFileAttributeView(folder, PosixFileAttributeView.class).setGroup(group);
            Files.setPosixFilePermissions(folder, GROUP_FOLDER_MODE);
        }
        if (Files.exists(socket)) {
            if (answers(socket)) {
                return null;
            }
            LOG.log(Level.INFO, "Replacing stale control socket " + socket + " (nobody listens on it)");
            Files.delete(socket);
        }
        ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, SOCKET_MODE);
            if (group != null) {
                Files.getFileAttributeView(socket, PosixFileAttributeView.class).setGroup(group);
                Files.setPosixFilePermissions(socket, GROUP_SOCKET_MODE);
            }
            return channel;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw new IOException("Cannot listen on control socket " + socket + ": " + e.getMessage(), e);
        }
    }

    void removeSocketFile() {
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot remove control socket " + socket + ": " + e.getMessage());
        }
    }

    /** True when a process accepts connections on the socket file. */
    static boolean answers(Path socket) {
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (ConnectException e) {
            return false;
        } catch (IOException e) {
            // Not a socket, or one we may not open: either way nobody we could talk to.
            return false;
        }
    }
}

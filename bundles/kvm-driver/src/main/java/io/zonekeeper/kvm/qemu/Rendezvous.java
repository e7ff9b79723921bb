package io.zonekeeper.kvm.qemu;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedResources;

/**
 * Where the two QEMUs of a zone-to-zone channel meet: a folder of its own per channel of a pair, derived from the
 * socket path zone-core's broker gives both sides ({@code <state>/channels/<hash>.sock} becomes the folder
 * {@code <hash>.d} holding the socket {@code s}, one byte shorter). A folder, not the socket file, because the
 * listening QEMU makes its socket anew at each start, while a jailed connecting QEMU sees only what was bound into
 * its root when it started. The broker's folder is the appliance's alone ({@code rwx------}); so no host user but
 * root reaches a rendezvous, and within the connecting zone's mount namespace only its own channel's folder does.
 */
public final class Rendezvous {
    /** The socket's name in its folder. */
    public static final String SOCKET = "s";

    private Rendezvous() {
    }

    public static Path dir(PreparedChannel p) {
        String s = p.socket();
        return Path.of((s.endsWith(".sock") ? s.substring(0, s.length() - ".sock".length()) : s) + ".d");
    }

    public static Path socket(PreparedChannel p) {
        return dir(p).resolve(SOCKET);
    }

    /** Makes the folder of each zone-to-zone channel, {@code rwx--x--x}: a jailed QEMU passes through, lists nothing. */
    public static void prepare(PreparedResources res) throws DriverException {
        for (PreparedChannel p : res.channels()) {
            if (p.peer() == null) {
                continue;
            }
            Path d = dir(p);
            try {
                Files.createDirectory(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                        "rwx--x--x")));
            } catch (FileAlreadyExistsException e) {
                // made by the other side, or by an earlier start
            } catch (IOException e) {
                throw new DriverException("cannot make the channel folder " + d + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Lets the connecting side's uid connect to each socket this zone listens on: the listening QEMU made it as
     * root, before its own switch of uid, and connecting needs write permission on the socket. Its folder is
     * what keeps everyone else out. A socket QEMU did not make (it failed, or exited) is left alone.
     */
    public static void openToPeers(PreparedResources res) {
        for (PreparedChannel p : res.channels()) {
            if (p.peer() != null && p.listens()) {
                try {
                    Files.setPosixFilePermissions(socket(p), PosixFilePermissions.fromString("rw-rw-rw-"));
                } catch (IOException e) {
                    // no socket: the connecting side keeps retrying and the zone's own failure says why
                }
            }
        }
    }
}

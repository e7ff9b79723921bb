package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ControlSocketBinderTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void listensInAPrivateFolderOnASocketOnlyTheOwnerCanOpen() throws Exception {
        Path socket = ControlSocketBinder.socketPath(tmp.getRoot().toPath());
        try (ServerSocketChannel server = new ControlSocketBinder(socket).bind()) {
            assertNotNull(server);
            assertEquals(PosixFilePermissions.fromString("rwx------"), Files.getPosixFilePermissions(socket.getParent()));
            assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(socket));
            assertTrue(ControlSocketBinder.answers(socket));
        }
    }

    @Test
    public void replacesAStaleSocketThatNobodyListensOn() throws Exception {
        Path socket = ControlSocketBinder.socketPath(tmp.getRoot().toPath());
        Files.createDirectories(socket.getParent());
        // A crashed appliance leaves its socket file behind: bound, then closed without unlinking.
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(socket));
        dead.close();
        assertTrue(Files.exists(socket));
        assertFalse(ControlSocketBinder.answers(socket));
        try (ServerSocketChannel server = new ControlSocketBinder(socket).bind()) {
            assertNotNull(server);
            assertTrue(ControlSocketBinder.answers(socket));
        }
    }

    @Test
    public void leavesALiveSocketToTheApplianceThatOwnsIt() throws Exception {
        Path socket = ControlSocketBinder.socketPath(tmp.getRoot().toPath());
        try (ServerSocketChannel owner = new ControlSocketBinder(socket).bind()) {
            assertNull(new ControlSocketBinder(socket).bind());
            assertTrue("the owner must still answer", ControlSocketBinder.answers(socket));
        }
    }
}

package io.zonekeeper.xen.vchan;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.Test;

/**
 * A zone's channels in the keeper, without Xen: the listening socket is bound and a host can connect; ending the
 * zone's channels ends every one of its threads (one waiting for a host, one waiting for the zone's vchan with a host
 * connected, one retrying a rendezvous that nobody listens on) and leaves no fd and no socket file behind.
 */
public class ZoneChannelsTest {

    /** The process's open fds and what each is. */
    private static java.util.Map<String, String> fds() throws IOException {
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    String what = Files.readSymbolicLink(p).toString();
                    if (!what.startsWith("/proc/")) { // not the listing's own
                        out.put(p.getFileName().toString(), what);
                    }
                } catch (IOException gone) {
                    // the listing's own fd
                }
            }
        }
        return out;
    }

    private static long threads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
    }

    @Test(timeout = 120_000) // a hang guard only
    public void closingEndsEveryThreadAndLeavesNoFdOrSocket() throws Exception {
        Path dir = Files.createTempDirectory("zonechannels");
        try {
            Path a = dir.resolve("a.sock");
            Path b = dir.resolve("b.sock");
            Path rendezvous = dir.resolve("nobody.sock");
            KeeperConfig config = new KeeperConfig(UUID.randomUUID(), 4711, KeeperConfig.xsBase(4711),
                    dir.resolve("no-xenstored"), List.of(new KeeperConfig.Channel("a", a, true),
                            new KeeperConfig.Channel("b", b, true), new KeeperConfig.Channel("c", rendezvous, false)));
            VchanClient.Natives natives = new VchanClient.Natives(null, VchanClient.Natives.loadLibc());
            java.util.Map<String, String> before = fds();
            ZoneChannels zc = new ZoneChannels(config, natives);
            zc.open();
            assertTrue(Files.exists(a));
            assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(a)));
            assertEquals(3, threads("channel-4711-"));
            try (SocketChannel host = SocketChannel.open(UnixDomainSocketAddress.of(a))) {
                Thread.sleep(500); // the channel's thread now waits for the zone (no xenstored here)
                zc.close();
                while (threads("channel-4711-") > 0) {
                    Thread.sleep(50);
                }
                assertEquals("the keeper's end of the host's connection is closed", -1,
                        host.read(java.nio.ByteBuffer.allocate(1)));
            }
            assertFalse("the socket file is left", Files.exists(a));
            assertFalse("the socket file is left", Files.exists(b));
            java.util.Map<String, String> left = new java.util.TreeMap<>(fds());
            left.entrySet().removeAll(before.entrySet());
            assertEquals("fds left open", java.util.Map.of(), left);
            zc.close(); // idempotent
        } finally {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }
}

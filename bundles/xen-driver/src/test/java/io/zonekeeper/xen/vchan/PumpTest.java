package io.zonekeeper.xen.vchan;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.Out;

/**
 * The channel keeper's session pump ({@link ZoneChannels#pump}) between a real host socket (a Java client on a socket
 * that {@link HostFds} listens on) and a vchan whose zone side the test plays: {@link FakeZone}, a libxenvchan whose
 * rings have the zone's sizes (1 KiB towards the zone, 2 KiB back) and whose event fd is a real eventfd, signalled
 * at each thing the zone does (the real library needs Xen: the lab's channel steps drive it).
 */
public class PumpTest {
    /** Only what the test needs beyond the keeper's own Libc. */
    public interface TestLibc {
        long read(int fd, @Out byte[] buf, long len);
    }

    static final Libc LIBC = VchanClient.Natives.loadLibc();
    static final TestLibc TLIBC = LibraryLoader.create(TestLibc.class).failImmediately().load("c");

    /** The zone's side of one vchan, and the threads that called into it as dom0. */
    static final class FakeZone implements Libxenvchan {
        final int eventFd;
        private final byte[] toZone = new byte[1024];
        private int toZoneLen;
        private final byte[] toHost = new byte[2048];
        private int toHostLen;
        private boolean zoneOpen = true;
        private boolean dom0Open = true;
        final Set<Thread> callers = ConcurrentHashMap.newKeySet();

        FakeZone() {
            eventFd = LIBC.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
            assertTrue(eventFd >= 0);
        }

        private void event() {
            byte[] one = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, 1).array();
            LIBC.write(eventFd, one, 8);
        }

        @Override
        public Pointer libxenvchan_client_init(Pointer logger, int domain, String xsPath) {
            return null;
        }

        @Override
        public synchronized void libxenvchan_close(Pointer ctrl) {
            callers.add(Thread.currentThread());
            dom0Open = false;
            notifyAll();
        }

        @Override
        public synchronized int libxenvchan_read(Pointer ctrl, Pointer data, long size) {
            callers.add(Thread.currentThread());
            int n = (int) Math.min(size, toHostLen);
            if (n == 0) {
                return zoneOpen ? 0 : -1;
            }
            data.put(0, toHost, 0, n);
            System.arraycopy(toHost, n, toHost, 0, toHostLen - n);
            toHostLen -= n;
            notifyAll();
            return n;
        }

        @Override
        public synchronized int libxenvchan_write(Pointer ctrl, Pointer data, long size) {
            callers.add(Thread.currentThread());
            int n = (int) Math.min(size, toZone.length - toZoneLen);
            data.get(0, toZone, toZoneLen, n);
            toZoneLen += n;
            notifyAll();
            return n;
        }

        @Override
        public int libxenvchan_wait(Pointer ctrl) {
            callers.add(Thread.currentThread());
            TLIBC.read(eventFd, new byte[8], 8);
            return 0;
        }

        @Override
        public int libxenvchan_fd_for_select(Pointer ctrl) {
            return eventFd;
        }

        @Override
        public synchronized int libxenvchan_is_open(Pointer ctrl) {
            return zoneOpen && dom0Open ? 1 : 0;
        }

        @Override
        public synchronized int libxenvchan_data_ready(Pointer ctrl) {
            return toHostLen;
        }

        @Override
        public synchronized int libxenvchan_buffer_space(Pointer ctrl) {
            return toZone.length - toZoneLen;
        }

        /** The zone reads what is there (waiting for some): null once dom0 closed and nothing is left. */
        synchronized byte[] zoneRead() throws InterruptedException {
            while (toZoneLen == 0 && dom0Open) {
                wait();
            }
            if (toZoneLen == 0) {
                return null;
            }
            byte[] out = java.util.Arrays.copyOf(toZone, toZoneLen);
            toZoneLen = 0;
            event();
            return out;
        }

        /** The zone writes all of {@code b}, waiting for room; false when dom0 closed first. */
        synchronized boolean zoneWrite(byte[] b) throws InterruptedException {
            int off = 0;
            while (off < b.length) {
                while (toHostLen == toHost.length && dom0Open) {
                    wait();
                }
                if (!dom0Open) {
                    return false;
                }
                int n = Math.min(b.length - off, toHost.length - toHostLen);
                System.arraycopy(b, off, toHost, toHostLen, n);
                toHostLen += n;
                off += n;
                event();
            }
            return true;
        }

        synchronized void zoneClose() {
            zoneOpen = false;
            event();
        }

        synchronized int inRingToZone() {
            return toZoneLen;
        }

        synchronized int inRingToHost() {
            return toHostLen;
        }

        void release() {
            LIBC.close(eventFd);
        }
    }

    private final ExecutorService pool = Executors.newCachedThreadPool();
    private Path dir;
    private HostFds fds;
    private int listenFd = -1;
    private int wake = -1;
    private volatile int hostFd = -1;
    private SocketChannel host;
    private FakeZone zone;
    private final AtomicBoolean ending = new AtomicBoolean();
    private final ZoneChannels.Session session = new ZoneChannels.Session();

    @Before
    public void connect() throws Exception {
        dir = Files.createTempDirectory("pump");
        fds = new HostFds(new VchanClient.Natives(null, LIBC));
        Path sock = dir.resolve("c.sock");
        listenFd = fds.listen(sock);
        wake = fds.eventfd();
        host = SocketChannel.open(UnixDomainSocketAddress.of(sock));
        short[] rev = new short[1];
        assertEquals(1, fds.poll(new int[] {listenFd}, new short[] {Libc.POLLIN}, rev, 20_000));
        hostFd = fds.accept(listenFd);
        assertTrue("accept failed: errno " + fds.errno(), hostFd >= 0);
        zone = new FakeZone();
    }

    @After
    public void cleanUp() throws Exception {
        pool.shutdownNow();
        host.close();
        fds.close(hostFd);
        fds.close(listenFd);
        fds.close(wake);
        zone.release();
        Files.deleteIfExists(dir.resolve("c.sock"));
        Files.delete(dir);
    }

    /** Runs the pump in a thread of its own; the future gives that thread. */
    private Future<Thread> startPump() {
        return pool.submit(() -> {
            VchanClient v = new VchanClient(new VchanClient.Natives(zone, LIBC), null);
            try {
                ZoneChannels.pump(fds, hostFd, v, wake, ending::get, session);
            } finally {
                v.close();
                fds.close(hostFd); // as the channel's thread does once a session ends
                hostFd = -1;
            }
            return Thread.currentThread();
        });
    }

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed + (i >> 10));
        }
        return b;
    }

    private static void writeAll(SocketChannel s, byte[] b) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(b);
        while (bb.hasRemaining()) {
            s.write(bb);
        }
    }

    private static byte[] readExactly(SocketChannel s, int n) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(n);
        while (bb.hasRemaining()) {
            if (s.read(bb) < 0) {
                break;
            }
        }
        return java.util.Arrays.copyOf(bb.array(), bb.position());
    }

    private byte[] zoneReadExactly(int n) throws InterruptedException {
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        while (got.size() < n) {
            byte[] b = zone.zoneRead();
            if (b == null) {
                break;
            }
            got.write(b, 0, b.length);
        }
        return got.toByteArray();
    }

    @Test(timeout = 180_000) // a hang guard only
    public void bytesGoBothWaysIntactAndOneThreadMakesEveryVchanCall() throws Exception {
        int size = 2 << 20;
        byte[] down = pattern(size, 7);
        byte[] up = pattern(size, 3);
        Future<Thread> pump = startPump();
        Future<byte[]> zoneGot = pool.submit(() -> zoneReadExactly(size));
        Future<Boolean> zoneSent = pool.submit(() -> zone.zoneWrite(down));
        Future<?> hostSent = pool.submit(() -> {
            writeAll(host, up);
            return null;
        });
        assertArrayEquals("zone to host", down, readExactly(host, size));
        hostSent.get(60, TimeUnit.SECONDS);
        assertTrue(zoneSent.get(60, TimeUnit.SECONDS));
        assertArrayEquals("host to zone", up, zoneGot.get(60, TimeUnit.SECONDS));
        zone.zoneClose();
        Thread pumpThread = pump.get(60, TimeUnit.SECONDS);
        assertEquals("the threads that called libxenvchan: " + zone.callers, Set.of(pumpThread), zone.callers);
        assertEquals(size, session.toZone);
        assertEquals(size, session.toHost);
        assertEquals("the host sees the zone's close", -1, host.read(ByteBuffer.allocate(1)));
    }

    @Test(timeout = 180_000) // a hang guard only
    public void aZoneThatDoesNotReadStopsTheHostWithinBoundedBuffers() throws Exception {
        Future<Thread> pump = startPump();
        host.configureBlocking(false);
        byte[] up = pattern(64 << 20, 5);
        ByteBuffer bb = ByteBuffer.wrap(up);
        long stalledSince = 0;
        while (bb.hasRemaining()) {
            if (host.write(bb) > 0) {
                stalledSince = 0;
            } else if (stalledSince == 0) {
                stalledSince = System.nanoTime();
            } else if (System.nanoTime() - stalledSince > TimeUnit.SECONDS.toNanos(2)) {
                break;
            } else {
                Thread.sleep(10);
            }
        }
        assertTrue("the host wrote all 64 MiB into a zone that read nothing", bb.hasRemaining());
        assertEquals("the ring is full", 1024, zone.inRingToZone());
        assertEquals("the keeper passed on more than the ring holds", 1024, session.toZone);
        // The host's bytes beyond the ring sit in the kernel's socket buffers and the keeper's one buffer.
        assertTrue("the keeper took " + bb.position() + " bytes", bb.position() <= 8 << 20);
        int written = bb.position();
        host.configureBlocking(true);
        Future<byte[]> zoneGot = pool.submit(() -> zoneReadExactly(written));
        assertArrayEquals(java.util.Arrays.copyOf(up, written), zoneGot.get(60, TimeUnit.SECONDS));
        ending.set(true);
        fds.signal(wake);
        pump.get(60, TimeUnit.SECONDS);
    }

    @Test(timeout = 180_000) // a hang guard only
    public void aHostThatDoesNotReadStopsTheZoneWithinBoundedBuffers() throws Exception {
        Future<Thread> pump = startPump();
        byte[] down = pattern(64 << 20, 9);
        Future<Boolean> zoneSent = pool.submit(() -> zone.zoneWrite(down));
        long lastToHost = -1;
        int same = 0;
        while (same < 20) { // 2 s without anything more leaving the ring
            Thread.sleep(100);
            long now = session.toHost;
            same = now == lastToHost ? same + 1 : 0;
            lastToHost = now;
        }
        assertFalse("the zone wrote all 64 MiB to a host that read nothing", zoneSent.isDone());
        assertEquals("the ring is full", 2048, zone.inRingToHost());
        assertTrue("the keeper took " + session.toHost + " bytes", session.toHost <= 8 << 20);
        int taken = (int) session.toHost; // what the host's socket holds now, less the keeper's buffer
        byte[] got = readExactly(host, taken);
        assertArrayEquals(java.util.Arrays.copyOf(down, taken), got);
        ending.set(true);
        fds.signal(wake);
        pump.get(60, TimeUnit.SECONDS);
    }

    @Test(timeout = 180_000) // a hang guard only
    public void theZoneClosingEndsTheSessionAfterItsLastBytes() throws Exception {
        Future<Thread> pump = startPump();
        byte[] down = pattern(100_000, 1);
        assertTrue(zone.zoneWrite(down));
        zone.zoneClose();
        assertArrayEquals(down, readExactly(host, down.length));
        pump.get(60, TimeUnit.SECONDS);
        assertEquals(-1, host.read(ByteBuffer.allocate(1)));
    }

    @Test(timeout = 180_000) // a hang guard only
    public void theHostClosingPassesItsBytesOnAndTheZoneStillAnswersDuringTheLinger() throws Exception {
        Future<Thread> pump = startPump();
        byte[] up = pattern(10_000, 2);
        writeAll(host, up);
        host.shutdownOutput();
        assertArrayEquals(up, zoneReadExactly(up.length));
        assertTrue(zone.zoneWrite("bye".getBytes()));
        assertArrayEquals("bye".getBytes(), readExactly(host, 3));
        pump.get(60, TimeUnit.SECONDS); // the linger ends it; the zone stays open
        assertEquals(-1, host.read(ByteBuffer.allocate(1)));
    }

    @Test(timeout = 180_000) // a hang guard only
    public void anIdleSessionEndsWhenTheZonesChannelsEnd() throws Exception {
        Future<Thread> pump = startPump();
        Thread.sleep(300);
        assertFalse(pump.isDone());
        ending.set(true);
        fds.signal(wake);
        pump.get(20, TimeUnit.SECONDS);
    }

    @Test(timeout = 180_000) // a hang guard only
    public void aSocketPathTooLongForSockaddrIsRefused() throws Exception {
        Path longPath = dir.resolve("x".repeat(120));
        try {
            fds.listen(longPath);
            throw new AssertionError("listened at a path of more than 107 bytes");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("more than 107"));
        }
        assertFalse(Files.exists(longPath));
    }

    @Test(timeout = 180_000) // a hang guard only
    public void connectReachesTheListeningSocketAndFailsWhereNoneListens() throws Exception {
        int c = fds.connect(dir.resolve("c.sock"));
        assertTrue(c >= 0);
        fds.close(c);
        assertEquals(-1, fds.connect(dir.resolve("nothing.sock")));
    }
}

package io.zonekeeper.xen.vchan;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Test;

import jnr.ffi.Pointer;

/**
 * The writer's wait for room in the ring, against a library whose ring the test fills and empties (the real one
 * needs Xen: the lab's channel_throughput step drives it).
 */
public class VchanClientTest {
    /** A vchan whose free space and open state the test sets; counts writes and waits. */
    static final class Ring implements Libxenvchan {
        volatile int space;
        volatile int open = 1;

        @Override
        public Pointer libxenvchan_client_init(Pointer logger, int domain, String xsPath) {
            return null;
        }

        @Override
        public void libxenvchan_close(Pointer ctrl) {
            open = 0;
        }

        @Override
        public int libxenvchan_read(Pointer ctrl, byte[] data, long size) {
            return 0;
        }

        @Override
        public int libxenvchan_write(Pointer ctrl, byte[] data, long size) {
            int w = (int) Math.min(size, space);
            space -= w;
            return w;
        }

        @Override
        public int libxenvchan_wait(Pointer ctrl) {
            return 0;
        }

        @Override
        public int libxenvchan_fd_for_select(Pointer ctrl) {
            return -1;
        }

        @Override
        public int libxenvchan_is_open(Pointer ctrl) {
            return open;
        }

        @Override
        public int libxenvchan_data_ready(Pointer ctrl) {
            return 0;
        }

        @Override
        public int libxenvchan_buffer_space(Pointer ctrl) {
            return space;
        }
    }

    private final ExecutorService pool = Executors.newSingleThreadExecutor();

    @After
    public void stop() {
        pool.shutdownNow();
    }

    /** Waits in another thread with a wait far longer than the test; true when it came back within 20 s. */
    private boolean returnsSoon(VchanClient v) throws Exception {
        Future<?> f = pool.submit(() -> {
            v.awaitSpace(TimeUnit.MINUTES.toMillis(10));
            return null;
        });
        try {
            f.get(20, TimeUnit.SECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            f.cancel(true);
            return false;
        }
    }

    @Test
    public void roomMadeBeforeTheWriterWaitsIsNotWaitedOut() throws Exception {
        Ring ring = new Ring();
        ring.space = 1024;
        VchanClient v = new VchanClient(new VchanClient.Natives(ring, null), null);
        assertEquals(1024, v.write(new byte[4096], 0, 4096));
        // The zone reads, and the event that said so is taken before the writer gets to its wait: nothing will
        // signal it again, so only a look at the ring under the lock lets it go on.
        ring.space = 512;
        assertTrue("the writer waited although the ring had room", returnsSoon(v));
    }

    @Test
    public void aClosedVchanIsNotWaitedOn() throws Exception {
        Ring ring = new Ring();
        VchanClient v = new VchanClient(new VchanClient.Natives(ring, null), null);
        ring.open = 0;
        assertTrue("the writer waited on a vchan the zone closed", returnsSoon(v));
        v.close();
        assertTrue("the writer waited on a vchan dom0 closed", returnsSoon(v));
    }

    @Test
    public void aFullRingMakesTheWriterWait() throws Exception {
        Ring ring = new Ring();
        VchanClient v = new VchanClient(new VchanClient.Natives(ring, null), null);
        long t0 = System.nanoTime();
        v.awaitSpace(300);
        assertTrue("no wait although the ring was full", System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(250));
    }
}

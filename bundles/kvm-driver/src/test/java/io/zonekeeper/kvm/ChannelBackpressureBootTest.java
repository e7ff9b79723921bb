package io.zonekeeper.kvm;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * A zone writes into its host channel as fast as it can while the host end is connected but reads nothing, so
 * every byte the guest sends waits in the guest's own send queue. That queue must be bounded well below the guest's
 * free memory: on microvm's virtio-mmio each queue had 1024 entries of up to 32 KiB each, and a 128 MiB guest ran
 * out of memory (its OOM killer ended the writer, the agent and the init). The guest must instead block its writer,
 * stay up, and deliver the whole stream once the host reads. Boots the host's kernel under TCG.
 */
public class ChannelBackpressureBootTest {
    private static final Path STATE = Path.of("target", "kvm-state").toAbsolutePath();
    private static final Pattern SENT = Pattern.compile("zonekeeper: channel up sent (\\d+) received");
    private KvmDriver kvm;
    private Path dir;

    @BeforeClass
    public static void needsQemuKernelAndBusybox() throws IOException {
        KvmDriverBootTest.needsQemuKernelAndBusybox();
    }

    @After
    public void killTheGuest() throws IOException {
        JailedBoots.cleanUp(kvm, dir == null ? java.util.List.of() : java.util.List.of(dir));
    }

    @Test
    public void aHostThatDoesNotReadBlocksTheWriterAndNeverExhaustsTheGuestsMemory() throws Exception {
        kvm = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "tcg", null));
        dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        TestZone z = new TestZone(UUID.randomUUID(), ZoneSpec.builder("bp").memoryMiB(128)
                .channel(ChannelSpec.toHost("up"))
                .cmdline("zk.run=\"dd if=/dev/zero of=/dev/virtio-ports/up bs=65536 count=1024; echo zk-writer-exit $?; sleep 120\"")
                .build(), dir); // the sleep keeps the zone up while the host drains what dd queued last
        RuntimeRecord r = kvm.start(z);
        assertTrue("the start names QEMU's pid", r.get(RuntimeRecord.PID).isPresent());
        Path socket = Path.of(r.get("channel.up").orElseThrow().substring("host ".length()));
        Path log = dir.resolve("console.log");
        try (SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            // Connected, not reading: the writer runs until its send queue is full. The init reports the port's
            // count every 2 s; wait until it stops growing (the writer blocked) or the guest dies.
            long last = -1;
            int same = 0;
            long deadline = System.nanoTime() + 180_000_000_000L;
            while (same < 3) {
                String c = Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
                assertFalse("the guest ran out of memory with its host end not reading:\n" + tail(c),
                        c.contains("Out of memory") || c.contains("oom-kill"));
                assertFalse("the writer ended before the host read anything:\n" + tail(c),
                        c.contains("zk-writer-exit"));
                long sent = lastSent(c);
                same = sent > 0 && sent == last ? same + 1 : 0;
                last = sent;
                if (System.nanoTime() > deadline) {
                    fail("the writer neither blocked nor failed within 180 s:\n" + tail(c));
                }
                Thread.sleep(2100);
            }
            assertTrue("the guest queued " + last + " bytes: its send queue is not bounded to a few MiB",
                    last < 16L << 20);
            // Now the host reads: the whole stream arrives and the writer ends normally.
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long got = 0;
            while (got < 64L << 20) {
                buf.clear();
                int n = s.read(buf);
                if (n < 0) {
                    fail("the channel closed after " + got + " bytes:\n" + tail(Files.readString(log,
                            StandardCharsets.ISO_8859_1)));
                }
                got += n;
            }
        }
        String c = awaitLine(log, "zk-writer-exit 0");
        assertFalse(tail(c), c.contains("Out of memory"));
    }

    private static long lastSent(String console) {
        Matcher m = SENT.matcher(console);
        long v = -1;
        while (m.find()) {
            v = Long.parseLong(m.group(1));
        }
        return v;
    }

    private static String awaitLine(Path log, String line) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (System.nanoTime() < deadline) {
            String c = Files.readString(log, StandardCharsets.ISO_8859_1);
            if (c.contains(line)) {
                return c;
            }
            Thread.sleep(100);
        }
        fail("'" + line + "' did not appear:\n" + tail(Files.readString(log, StandardCharsets.ISO_8859_1)));
        return null;
    }

    private static String tail(String s) {
        return s.length() <= 3000 ? s : s.substring(s.length() - 3000);
    }
}

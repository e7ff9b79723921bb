package io.zonekeeper.kvm;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

import io.zonekeeper.agent.AgentException;
import io.zonekeeper.agent.AgentLink;
import io.zonekeeper.agent.ExecRequest;
import io.zonekeeper.agent.ExecSession;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.guest.AgentEndpoint;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * The guest agent in a real zone (Debian's kernel, the zone image with zk-agent, QEMU under the driver's accelerator):
 * one zone for the class, reached through the agent socket the driver recorded, as zone:exec reaches it.
 */
public class AgentBootTest {
    private static final Path STATE = Path.of("target", "kvm-state").toAbsolutePath();
    private static KvmDriver kvm;
    private static TestZone zone;
    private static Path dir;
    private static AgentLink link;

    @BeforeClass
    public static void bootOneZone() throws Exception {
        BootPrerequisites.need("qemu-system-x86_64 is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "qemu-system-x86_64"))));
        BootPrerequisites.need("busybox-static is installed", Files.isRegularFile(Path.of("/bin/busybox")));
        kvm = new KvmDriver(new KvmDriver.Settings(STATE, "qemu-system-x86_64", "auto", null));
        dir = Files.createTempDirectory(Path.of("/tmp"), "zk-");
        zone = new TestZone(UUID.randomUUID(), ZoneSpec.builder("agent").memoryMiB(256).build(), dir);
        RuntimeRecord r = kvm.start(zone);
        AgentEndpoint endpoint = AgentEndpoint.of(r.properties()).orElseThrow();
        assertEquals(AgentEndpoint.UNIX, endpoint.transport());
        // Greeting waits for the guest to boot and start its agent.
        link = AgentLink.connect(Path.of(endpoint.address()), Duration.ofSeconds(60));
    }

    @AfterClass
    public static void killTheZone() throws IOException {
        if (link != null) {
            link.close();
        }
        if (kvm != null) {
            kvm.deactivate();
        }
        OurQemus.kill();
        if (dir != null) {
            Path log = dir.resolve("console.log");
            if (Files.exists(log)) {
                // For the record: the agent's own lines are on the console.
                System.out.println("agent zone console:\n" + Files.readString(log, StandardCharsets.ISO_8859_1));
            }
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static ExecRequest command(String... argv) {
        return new ExecRequest(List.of(argv), List.of(), "", "", false, 0, 0);
    }

    private static int drain(ExecSession s, OutputStream out, OutputStream err) throws Exception {
        Integer status;
        while ((status = s.pump(out, err, 1000)) == null) {
            // keeps pumping: no idle timeout
        }
        return status;
    }

    @Test
    public void tenMebibytesThroughCatComeBackByDigestWithTheExitCode() throws Exception {
        byte[] data = new byte[10 << 20];
        new Random(14).nextBytes(data);
        ExecSession s = link.exec(command("sh", "-c", "cat; exit 7"), Duration.ofSeconds(30));
        Thread feeder = new Thread(() -> {
            try {
                s.write(data, 0, data.length);
                s.closeStdin();
            } catch (AgentException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        feeder.start();
        MessageDigest got = MessageDigest.getInstance("SHA-256");
        long[] count = new long[1];
        OutputStream digest = new OutputStream() {
            @Override
            public void write(int b) {
                got.update((byte) b);
                count[0]++;
            }

            @Override
            public void write(byte[] b, int off, int len) {
                got.update(b, off, len);
                count[0] += len;
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        int status = drain(s, digest, err);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        feeder.join();
        assertEquals("stderr: " + err, 7, status);
        assertEquals(data.length, count[0]);
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data), got.digest());
        System.out.println("agent: 10 MiB through cat and back in " + ms + " ms");
    }

    @Test
    public void twoExecsRunAtOnceAndEachGetsItsOwnOutputAndStatus() throws Exception {
        // Each waits for the other's file, so they finish only if both run at the same time.
        ExecSession a = link.exec(command("sh", "-c", "touch /tmp/a-up; while [ ! -e /tmp/b-up ]; do sleep 0.1;"
                + " done; echo from-a; exit 3"), Duration.ofSeconds(30));
        ExecSession b = link.exec(command("sh", "-c", "touch /tmp/b-up; while [ ! -e /tmp/a-up ]; do sleep 0.1;"
                + " done; echo from-b >&2; exit 4"), Duration.ofSeconds(30));
        ByteArrayOutputStream aOut = new ByteArrayOutputStream();
        ByteArrayOutputStream bErr = new ByteArrayOutputStream();
        ByteArrayOutputStream none = new ByteArrayOutputStream();
        assertEquals(3, drain(a, aOut, none));
        assertEquals(4, drain(b, none, bErr));
        assertEquals("from-a\n", aOut.toString(StandardCharsets.UTF_8));
        assertEquals("from-b\n", bErr.toString(StandardCharsets.UTF_8));
        assertEquals("", none.toString(StandardCharsets.UTF_8));
    }

    @Test
    public void aMissingCommandFailsAtOnceNamingIt() throws Exception {
        try {
            link.exec(command("/nonexistent", "x"), Duration.ofSeconds(30));
            fail("exec of /nonexistent started");
        } catch (AgentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("exec /nonexistent: No such file or directory"));
        }
        // The link is still good for the next one.
        assertEquals(0, drain(link.exec(command("true"), Duration.ofSeconds(30)), OutputStream.nullOutputStream(),
                OutputStream.nullOutputStream()));
    }

    @Test
    public void aCommandStartsWithNoSignalIgnoredSoCtrlCReachesItsTrap() throws Exception {
        // The init starts the agent with "&", which ignores SIGINT and SIGQUIT; a command must not inherit that.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, drain(link.exec(command("grep", "SigIgn", "/proc/self/status"), Duration.ofSeconds(30)),
                out, out));
        assertEquals("SigIgn:\t0000000000000000\n", out.toString(StandardCharsets.UTF_8));
        out.reset();
        ExecSession s = link.exec(command("sh", "-c", "trap 'echo got-INT; exit 9' INT; echo armed;"
                + " while :; do sleep 1; done"), Duration.ofSeconds(30));
        while (!out.toString(StandardCharsets.UTF_8).contains("armed")) {
            assertEquals(null, s.pump(out, out, 1000));
        }
        s.signal(2);
        assertEquals(out.toString(StandardCharsets.UTF_8), 9, drain(s, out, out));
        assertTrue(out.toString(StandardCharsets.UTF_8), out.toString(StandardCharsets.UTF_8).contains("got-INT"));
    }

    @Test
    public void aQuietExecStillAnswersAfterAWhileAndSignalsReachIt() throws Exception {
        ExecSession s = link.exec(command("sh", "-c", "read line; echo got $line; sleep 1000"),
                Duration.ofSeconds(30));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // Quiet for 20 s (scripts/bench holds one quiet for 2 minutes).
        for (int i = 0; i < 20; i++) {
            assertEquals(null, s.pump(out, out, 1000));
        }
        byte[] line = "hello\n".getBytes(StandardCharsets.US_ASCII);
        s.write(line, 0, line.length);
        while (!out.toString(StandardCharsets.UTF_8).contains("got hello")) {
            assertEquals(null, s.pump(out, out, 1000));
        }
        s.signal(15);
        assertEquals("ended by SIGTERM", 128 + 15, drain(s, out, out));
    }

    @Test
    public void aNewHostConnectionIsServedAfterTheOldOneWentAwayMidStream() throws Exception {
        Path socket = Path.of(AgentEndpoint.of(zone.runtime().orElseThrow().properties()).orElseThrow().address());
        for (int round = 0; round < 3; round++) {
            // The old host vanishes while its command is still streaming stdin and output.
            AgentLink old = AgentLink.connect(socket, Duration.ofSeconds(30));
            link.close();
            ExecSession busy = old.exec(command("cat"), Duration.ofSeconds(30));
            byte[] chunk = new byte[60000];
            busy.write(chunk, 0, chunk.length);
            busy.pump(OutputStream.nullOutputStream(), OutputStream.nullOutputStream(), 200);
            old.close();
            link = AgentLink.connect(socket, Duration.ofSeconds(30));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(0, drain(link.exec(command("echo", "round" + round), Duration.ofSeconds(30)), out, out));
            assertEquals("round" + round + "\n", out.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    public void theEnvironmentWorkdirAndATerminalReachTheCommand() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ExecSession s = link.exec(new ExecRequest(List.of("sh", "-c", "echo $ZK_TEST:$(pwd); stty size; [ -t 0 ]"),
                List.of("ZK_TEST=yes"), "/proc", "0", true, 33, 101), Duration.ofSeconds(30));
        assertEquals(0, drain(s, out, out));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text, text.contains("yes:/proc"));
        assertTrue(text, text.contains("33 101"));
    }
}

package io.zonekeeper.itests.faults;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import jakarta.json.Json;
import jakarta.json.JsonObject;

/**
 * {@code zone:exec} on the assembled distribution, over the control socket's protocol 2 as {@code bin/zonekeeper -c}
 * speaks it: an exec whose output streams while the kvm driver is replaced twice ({@code driver:upgrade} to
 * kvm-driver-next and back) loses no byte, because QEMU holds the agent's port, not the driver; a signal frame
 * ({@code {"signal":2}}, what the client sends on Ctrl-C) reaches the command's process group; and with
 * {@code --tty} the command's terminal has the request's window size and follows a {@code {"winsize":...}} frame;
 * and an exec left quiet for 2 minutes, across those upgrades, still answers (it runs beside the rest, so the test
 * takes about 2 minutes plus the zone's boot).
 */
public class ExecThroughUpgradeIT {
    private static final Duration ASK = Duration.ofSeconds(180);
    /** How long an exec stays quiet, as the issue asks (Kata ends quiet ones after 30 s). */
    private static final Duration IDLE = Duration.ofMinutes(2);
    /** About 200 bytes a line, numbered, so that a lost, doubled or reordered byte shows. */
    private static final String PAD = "x".repeat(190);

    private Path state;
    private ApplianceProcess appliance;
    private ControlClient control;

    @Before
    public void startTheApplianceAndAZone() throws Exception {
        state = Files.createTempDirectory(Path.of("/tmp"), "zk-exec-upgrade");
        appliance = new ApplianceProcess(ApplianceProcess.builtDistribution(), state);
        control = new ControlClient(state);
        appliance.start(null);
        ask("zone:create --hypervisor kvm --start ex");
        ask("zone:wait --timeout 300 --console 'zonekeeper: zone ex ready' ex");
    }

    @After
    public void destroyEverything() throws Exception {
        try {
            control.run("zone:destroy ex", Duration.ofSeconds(60));
        } finally {
            UpgradeSweep.stopAndRemove(appliance, control, state);
        }
    }

    private String ask(String command) throws IOException {
        ControlClient.Answer a = control.run(command, ASK);
        if (!a.ok()) {
            throw new AssertionError(command + " exited " + a.code() + ": " + a.err() + a.out());
        }
        return a.out();
    }

    @Test
    public void anExecStreamingThroughTwoDriverUpgradesLosesNoByteAndSignalsAndWindowSizesReachIt() throws Exception {
        List<Path> jars = UpgradeSweep.signedKvmDriverJars(ApplianceProcess.builtDistribution(),
                Files.createDirectories(state.resolve("signed")));
        Path next = jars.get(0);
        Path own = jars.get(1);

        // An exec that waits, quiet, for its input: it must still answer after 2 minutes and the upgrades below.
        Exchange idle = Exchange.open(state, Json.createObjectBuilder().add("command", "zone:exec ex -- sh -c"
                + " 'echo waiting; read x; echo got-$x'").add("stdin", true).build());
        try {
            idle.readUntil("waiting");
        } catch (AssertionError e) {
            // Seen once in CI (2026-12-03) and once before: the first exec after the ready line never started. The
            // zone's console (the agent logs there) is the evidence to keep.
            throw new AssertionError(e.getMessage() + "\nthe zone's last console lines:\n"
                    + control.run("zone:logs -n 60 ex", ASK).out(), e);
        }
        long idleFrom = System.nanoTime();

        // Prints numbered lines until the test has upgraded the driver twice (it then makes /tmp/upgraded), and at
        // least 300 of them; then the count, and exits 0.
        String stream = "zone:exec ex -- sh -c 'touch /tmp/streaming; i=0; while [ ! -e /tmp/upgraded ] || [ $i -lt 300 ];"
                + " do echo \"line-$i " + PAD + "\"; i=$((i+1)); usleep 20000; done; echo \"end $i\"'";
        CompletableFuture<ControlClient.Answer> streaming = CompletableFuture.supplyAsync(() -> {
            try {
                return control.run(stream, Duration.ofSeconds(600));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long deadline = System.nanoTime() + ASK.toNanos();
        while (control.run("zone:exec ex -- test -e /tmp/streaming", ASK).code() != 0) {
            assertTrue("the streaming exec did not start", System.nanoTime() < deadline && !streaming.isDone());
            Thread.sleep(200);
        }
        ask("driver:upgrade kvm " + next);
        ask("driver:upgrade kvm " + own);
        ask("zone:exec ex -- touch /tmp/upgraded");

        ControlClient.Answer a = streaming.get(600, TimeUnit.SECONDS);
        assertEquals(a.err(), 0, a.code());
        String[] lines = a.out().split("\n");
        String last = lines[lines.length - 1];
        assertTrue(last, last.matches("end \\d+"));
        int n = Integer.parseInt(last.substring(4));
        assertEquals("lines before the end line", n, lines.length - 1);
        for (int i = 0; i < n; i++) {
            assertEquals("line " + i, "line-" + i + " " + PAD, lines[i]);
        }
        System.out.println("exec through two driver upgrades: " + n + " lines, " + a.out().length()
                + " bytes, all in order");

        // Ctrl-C: the client's signal frame goes to the command's process group; the shell's trap answers.
        Exchange ctrlC = Exchange.open(state, Json.createObjectBuilder().add("command", "zone:exec ex -- sh -c"
                + " 'trap \"echo got-INT; exit 9\" INT; echo armed; while :; do sleep 1; done'").add("stdin", true)
                .build());
        ctrlC.readUntil("armed");
        ctrlC.send(Json.createObjectBuilder().add("signal", 2).build());
        assertEquals(ctrlC.out() + ctrlC.err(), 9, ctrlC.finish());
        assertTrue(ctrlC.out(), ctrlC.out().contains("got-INT"));

        // --tty: the window size of the request, then the one a winsize frame brings while the command runs.
        Exchange tty = Exchange.open(state, Json.createObjectBuilder().add("command", "zone:exec --tty ex -- sh -c"
                + " 'stty size; echo ready; while [ \"$(stty size)\" = \"33 77\" ]; do usleep 50000; done; stty size'")
                .add("stdin", true).add("winsize", "33x77").build());
        tty.readUntil("ready");
        tty.send(Json.createObjectBuilder().add("winsize", "40x100").build());
        assertEquals(tty.out() + tty.err(), 0, tty.finish());
        assertTrue(tty.out(), tty.out().contains("33 77"));
        assertTrue(tty.out(), tty.out().indexOf("40 100") > tty.out().indexOf("ready"));

        long quiet = IDLE.toNanos() - (System.nanoTime() - idleFrom);
        if (quiet > 0) {
            Thread.sleep(quiet / 1_000_000);
        }
        idle.send(Json.createObjectBuilder().add("in", Base64.getEncoder().encodeToString(
                "hello\n".getBytes(StandardCharsets.UTF_8))).build());
        idle.send(Json.createObjectBuilder().add("eof", true).build());
        assertEquals(idle.out() + idle.err(), 0, idle.finish());
        assertTrue(idle.out(), idle.out().contains("got-hello"));
        System.out.println("an exec quiet for " + (System.nanoTime() - idleFrom) / 1_000_000_000 + " s answered");
    }

    /** One request on the control socket whose input lines the test writes while it runs. */
    private static final class Exchange {
        /** Longer than any one request of this test takes, the quiet exec's 2 minutes included. */
        private static final Duration LIMIT = Duration.ofMinutes(6);

        private final SocketChannel ch;
        private final BufferedReader reader;
        private final StringBuilder out = new StringBuilder();
        private final StringBuilder err = new StringBuilder();

        private Exchange(SocketChannel ch) {
            this.ch = ch;
            this.reader = new BufferedReader(Channels.newReader(ch, StandardCharsets.UTF_8));
        }

        static Exchange open(Path state, JsonObject request) throws IOException {
            SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(state.resolve("run/control.sock")));
            // A command that never ends fails the test instead of hanging it: the channel closes under the reader.
            CompletableFuture.delayedExecutor(LIMIT.toSeconds(), TimeUnit.SECONDS).execute(() -> {
                try {
                    ch.close();
                } catch (IOException e) {
                    // closed already
                }
            });
            Exchange e = new Exchange(ch);
            e.send(request);
            return e;
        }

        void send(JsonObject line) throws IOException {
            ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        /** Reads frames until the output holds {@code text}; fails if the request ends first. */
        void readUntil(String text) throws IOException {
            while (!out.toString().contains(text)) {
                if (frame() != null) {
                    throw new AssertionError("ended before printing " + text + ": " + out + err);
                }
            }
        }

        /** Reads to the end; the exit code. */
        int finish() throws IOException {
            try (ch) {
                Integer code;
                while ((code = frame()) == null) {
                    // more output
                }
                return code;
            }
        }

        private Integer frame() throws IOException {
            return ControlClient.frame(reader, out, err);
        }

        String out() {
            return out.toString();
        }

        String err() {
            return err.toString();
        }
    }
}

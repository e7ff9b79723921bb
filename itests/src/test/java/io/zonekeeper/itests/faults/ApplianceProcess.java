package io.zonekeeper.itests.faults;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The assembled distribution's {@code bin/zonekeeper --no-shell} on one state directory, started again and again
 * and killed with SIGKILL by its pid: what a power cut or an OOM kill does to the appliance (its guests are QEMU
 * processes of their own and live on).
 */
final class ApplianceProcess {
    private final Path dist;
    private final Path state;
    private Process process;
    private int starts;

    ApplianceProcess(Path dist, Path state) {
        this.dist = dist;
        this.state = state;
    }

    /** The distribution built by the reactor, or the one {@code zk.repo.root} points at. */
    static Path builtDistribution() {
        Path d = Path.of(System.getProperty("zk.repo.root", ".")).resolve("launcher/target/zonekeeper")
                .toAbsolutePath().normalize();
        if (!Files.isExecutable(d.resolve("bin/zonekeeper"))) {
            Path up = Path.of("..").resolve("launcher/target/zonekeeper").toAbsolutePath().normalize();
            if (Files.isExecutable(up.resolve("bin/zonekeeper"))) {
                return up;
            }
            throw new IllegalStateException("no built distribution at " + d + " (build the launcher module first)");
        }
        return d;
    }

    /**
     * Starts the appliance and waits for its control socket; {@code crashPoint} (NAME:N, or null) makes it halt
     * there, as a kill -9 at that line would.
     */
    void start(String crashPoint) throws IOException, InterruptedException {
        Files.deleteIfExists(state.resolve("run/control.sock"));
        Path log = state.resolve("appliance-" + (++starts) + ".log");
        List<String> cmd = new ArrayList<>(List.of(dist.resolve("bin/zonekeeper").toString(), "--state",
                state.toString(), "--no-shell"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("ZONEKEEPER_JAVA_OPTS", crashPoint == null ? "" : "-Dzonekeeper.crashPoint=" + crashPoint);
        process = pb.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!Files.exists(state.resolve("run/control.sock"))) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("the appliance did not open its control socket; its log " + log + ":\n"
                        + tail(log));
            }
            Thread.sleep(50);
        }
        // The socket file exists from bind(); wait for listen() too, so that the first command is not refused.
        while (true) {
            try (var ch = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(
                    state.resolve("run/control.sock")))) {
                return;
            } catch (IOException notYet) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("the appliance does not accept on its control socket: " + notYet
                            + "; its log " + log + ":\n" + tail(log));
                }
                Thread.sleep(50);
            }
        }
    }

    boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** SIGKILL by pid; returns once the JVM is gone. */
    void kill() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** Waits up to {@code limit} for the appliance to end by itself (a crash point); true when it did. */
    boolean awaitHalt(Duration limit) throws InterruptedException {
        return process != null && process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** SIGTERM, as an operator stops it; guests keep running. */
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }

    static String tail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }
}

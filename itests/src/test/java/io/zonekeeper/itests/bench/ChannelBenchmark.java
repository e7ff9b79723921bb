package io.zonekeeper.itests.bench;

import java.io.File;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.kvm.KvmDriver;

/**
 * Prints channel throughput against its baselines, all in the same run, for KVM (or TCG where there is no KVM):
 * <ul>
 * <li>zone to host: a zone writes zeros into its host channel without end; the host reads {@value #MIB} MiB from the
 * channel's socket, timed on the host. Baseline: the same QEMU command line run directly, which is plain
 * virtio-serial to a host socket.</li>
 * <li>host to zone: the host writes without end; the zone reads {@value #MIB} MiB with busybox dd, timed by dd in
 * the guest. Same baseline.</li>
 * <li>zone to zone: one zone writes zeros into a zone-to-zone channel, the other reads {@value #MIB} MiB with dd.
 * Baseline: the same two QEMU command lines run directly, meeting at the same chardev socket.</li>
 * </ul>
 * Every reader first reads 1 MiB untimed, so the figures are the steady stream, not the wait for the other side.
 * A benchmark, not a test: it prints figures and asserts nothing.
 */
public final class ChannelBenchmark {
    private static final Duration LIMIT = Duration.ofSeconds(180);
    private static final int MIB = 64;
    private static final int BLOCK = 64 * 1024;
    /**
     * What the reading zone prints: dd's "N+M records in", then the guest's uptime before and after dd (Debian's
     * busybox dd prints no time of its own). 10 ms resolution: a few per cent of a transfer of a second or more.
     */
    private static final Pattern DD = Pattern.compile("(\\d+)\\+(\\d+) records in[\\s\\S]*?zk-ch ([0-9.]+) ([0-9.]+)");
    private static final int BLOCKS = MIB * 1048576 / BLOCK;

    private ChannelBenchmark() {
    }

    /** Reads 1 MiB untimed (the other side may not be connected yet: reads see end of file until it is), then MIB. */
    private static String reader(String port) {
        String p = "/dev/virtio-ports/" + port;
        return "until [ $(head -c 1048576 " + p + " | wc -c) -ge 1048576 ]; do sleep 0.05; done;"
                + " a=$(cut -d' ' -f1 /proc/uptime); dd if=" + p + " of=/dev/null bs=" + BLOCK + " count=" + BLOCKS
                + " iflag=fullblock; b=$(cut -d' ' -f1 /proc/uptime); echo zk-ch $a $b";
    }

    /** Writes zeros until the zone is destroyed; a write blocks while nothing is connected at the other end. */
    private static String writer(String port) {
        return "(dd if=/dev/zero of=/dev/virtio-ports/" + port + " bs=" + BLOCK + "; echo zk-writer-exit $?)";
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        BenchFigures figures = new BenchFigures("channels");
        Path state = Files.createTempDirectory(Path.of("/tmp"), "zk-ch");
        ZoneRegistry registry = new ZoneRegistry();
        registry.open(state, null, Duration.ofSeconds(15), Duration.ofSeconds(10));
        KvmDriver driver = new KvmDriver(new KvmDriver.Settings(state, "qemu-system-x86_64", "auto", null));
        registry.addDriver(driver, "kvm-driver", "benchmark");
        List<Process> plain = new ArrayList<>();
        try {
            List<Double> upZk = new ArrayList<>();
            List<Double> upPlain = new ArrayList<>();
            List<Double> downZk = new ArrayList<>();
            List<Double> downPlain = new ArrayList<>();
            List<Double> zzZk = new ArrayList<>();
            List<Double> zzPlain = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                // Host channels: "up" from the zone to the host, "down" from the host to the zone.
                String h = "h" + i;
                registry.create(ZoneSpec.builder(h).hypervisor("kvm").channel(ChannelSpec.toHost("up"))
                        .channel(ChannelSpec.toHost("down"))
                        .cmdline("zk.run=\"" + writer("up") + " & " + reader("down") + "\"").build());
                ZoneInfo hz = registry.start(h);
                List<String> hArgs = cmdline(hz);
                Path hLog = registry.consoleLog(h);
                awaitLine(hLog, "zonekeeper: zone " + h + " ready", 0);
                double[] zk = hostSample("zonekeeper host channels, run " + (i + 1), failures, hLog, 0,
                        () -> hostChannels(socketOf(hz, "up"), socketOf(hz, "down"), hLog, 0));
                registry.destroy(h);
                Path hDir = NetworkDiskBenchmark.consoleLogOf(hArgs).getParent();
                long mark = sizeOf(hLog);
                Process p = launch(hArgs, plain);
                awaitLine(hLog, "zonekeeper: zone " + h + " ready", mark);
                double[] pl = hostSample("plain host channels, run " + (i + 1), failures, hLog, mark,
                        () -> hostChannels(socketOf(hz, "up"), socketOf(hz, "down"), hLog, mark));
                stop(p, hDir);
                if (zk[0] > 0 && pl[0] > 0) {
                    upZk.add(zk[0]);
                    upPlain.add(pl[0]);
                }
                if (zk[1] > 0 && pl[1] > 0) {
                    downZk.add(zk[1]);
                    downPlain.add(pl[1]);
                }

                // A zone-to-zone channel: "a" + i sorts first, so its QEMU listens and the other's connects.
                String a = "a" + i;
                String b = "b" + i;
                registry.create(ZoneSpec.builder(a).hypervisor("kvm").channel(new ChannelSpec("pipe", b))
                        .cmdline("zk.run=\"" + writer("pipe") + "\"").build());
                registry.create(ZoneSpec.builder(b).hypervisor("kvm").channel(new ChannelSpec("pipe", a))
                        .cmdline("zk.run=\"" + reader("pipe") + "\"").build());
                List<String> aArgs = cmdline(registry.start(a));
                ZoneInfo bz = registry.start(b);
                List<String> bArgs = cmdline(bz);
                Path meeting = meetingFolder(aArgs, "pipe");
                Path bLog = registry.consoleLog(b);
                double zz = sample("zonekeeper zone to zone, run " + (i + 1), failures, () -> withWriter(
                        registry.consoleLog(a), 0, () -> ddRate(awaitLine(bLog, "zonekeeper: zone " + b + " finished",
                        0))));
                registry.destroy(a);
                registry.destroy(b);
                // A guest that powered off by itself is an exit the driver's shared watcher may see a moment later,
                // and then it removes that zone's sockets: let it, before plain QEMUs make the same paths again.
                awaitGone(aArgs);
                awaitGone(bArgs);
                Thread.sleep(2000);
                Path aDir = NetworkDiskBenchmark.consoleLogOf(aArgs).getParent();
                Path bDir = NetworkDiskBenchmark.consoleLogOf(bArgs).getParent();
                long markB = sizeOf(bLog);
                long markA = sizeOf(NetworkDiskBenchmark.consoleLogOf(aArgs));
                Process pa = launch(aArgs, plain);
                Process pb = launchConnecting(bArgs, meeting, plain);
                double zzp = sample("plain zone to zone, run " + (i + 1), failures, () -> withWriter(
                        NetworkDiskBenchmark.consoleLogOf(aArgs), markA, () -> ddRate(awaitLine(bLog, "zonekeeper: zone " + b + " finished",
                        markB))));
                if (zzp == 0) {
                    for (Path d : List.of(aDir, bDir)) {
                        Path out = d.resolve("plain-qemu.out");
                        System.err.println(out + ": " + (Files.exists(out) ? Files.readString(out) : "(none)"));
                    }
                }
                stop(pa, aDir);
                stop(pb, bDir);
                deleteTree(jailRoot(bArgs));
                if (zz > 0 && zzp > 0) {
                    zzZk.add(zz);
                    zzPlain.add(zzp);
                }
                System.out.printf("channels: run %d: zone to host %.1f MiB/s (plain %.1f), host to zone %.1f MiB/s"
                        + " (plain %.1f), zone to zone %.1f MiB/s (plain QEMU-QEMU %.1f)%n", i + 1, zk[0], pl[0],
                        zk[1], pl[1], zz, zzp);
            }
            String accel = driver.capabilities().details().get("accel");
            if (upZk.isEmpty() || downZk.isEmpty()) {
                figures.failed("host channels: no run completed: " + String.join("; ", failures));
                throw new IllegalStateException("host channels: no run completed: " + String.join("; ", failures));
            }
            report(figures, "zone to host", median(upZk), median(upPlain), "plain virtio-serial to a host socket",
                    ">= 0.9", runs, accel, "host clock");
            report(figures, "host to zone", median(downZk), median(downPlain), "plain virtio-serial to a host socket",
                    ">= 0.9", runs, accel, "guest clock");
            if (zzZk.isEmpty()) {
                figures.failed("zone to zone: no run completed: " + String.join("; ", failures));
                throw new IllegalStateException("zone to zone: no run completed: " + String.join("; ", failures));
            }
            report(figures, "zone to zone", median(zzZk), median(zzPlain), "plain QEMU-QEMU chardev socket",
                    ">= 1.0", zzZk.size(), accel, "guest clock");
            if (!failures.isEmpty()) {
                figures.failed(failures.size() + " of " + 4 * runs + " transfers failed: "
                        + String.join("; ", failures));
            }
        } finally {
            for (Process p : plain) {
                p.destroyForcibly().waitFor();
            }
            for (ZoneInfo z : registry.list()) {
                registry.destroy(z.name());
            }
            registry.close();
            driver.deactivate();
            deleteTree(state);
        }
    }

    private static void report(BenchFigures figures, String what, double zk, double base, String baseline,
            String target, int runs, String accel, String clock) {
        System.out.printf("channels: %s, %d MiB: zonekeeper %.1f MiB/s, %s %.1f MiB/s, ratio %.2f (target %s;"
                + " median of %d; %s; accelerator %s)%n", what, MIB, zk, baseline, base, zk / base, target, runs,
                clock, accel);
        figures.figure(what + " throughput", round1(zk), round1(base), "MiB/s", target);
    }

    /**
     * Zone to host: reads 1 MiB from {@code up} untimed, then MIB timed. Host to zone: writes to {@code down} until
     * the zone's dd has printed its figure in {@code log} (after {@code from}).
     */
    private static double[] hostChannels(Path up, Path down, Path log, long from) throws Exception {
        double upRate;
        try (SocketChannel s = connect(up)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            readFully(s, buf, 1 << 20);
            long t0 = System.nanoTime();
            readFully(s, buf, (long) MIB << 20);
            upRate = MIB / ((System.nanoTime() - t0) / 1e9);
        }
        double downRate;
        try (SocketChannel s = connect(down)) {
            Thread feeder = new Thread(() -> {
                ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
                try {
                    while (true) {
                        zeros.clear();
                        while (zeros.hasRemaining()) {
                            s.write(zeros);
                        }
                    }
                } catch (IOException e) {
                    // The zone powered off, or the socket was closed below: the stream ends here.
                }
            }, "channel-feeder");
            feeder.setDaemon(true);
            feeder.start();
            downRate = ddRate(awaitLine(log, "zonekeeper: zone ", from, " finished"));
        }
        return new double[] {upRate, downRate};
    }

    private static SocketChannel connect(Path socket) throws Exception {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (true) {
            try {
                return SocketChannel.open(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("cannot connect to " + socket + ": " + e.getMessage(), e);
                }
                Thread.sleep(10);
            }
        }
    }

    private static void readFully(SocketChannel s, ByteBuffer buf, long bytes) throws IOException {
        long left = bytes;
        while (left > 0) {
            buf.clear();
            if (left < buf.capacity()) {
                buf.limit((int) left);
            }
            int n = s.read(buf);
            if (n < 0) {
                throw new IOException("the channel closed with " + left + " of " + bytes + " bytes still to read");
            }
            left -= n;
        }
    }

    /** MiB/s from the reading zone's console text; refuses a short read, which would flatter the figure. */
    private static double ddRate(String console) {
        Matcher m = DD.matcher(console);
        if (!m.find()) {
            throw new IllegalStateException("the reading zone printed no dd records and times:\n" + console);
        }
        if (Long.parseLong(m.group(1)) != BLOCKS || Long.parseLong(m.group(2)) != 0) {
            throw new IllegalStateException("the reading zone read " + m.group(1) + "+" + m.group(2)
                    + " blocks, not " + BLOCKS + " full ones:\n" + console);
        }
        double seconds = Double.parseDouble(m.group(4)) - Double.parseDouble(m.group(3));
        if (seconds <= 0) {
            throw new IllegalStateException("the reading zone's clock moved by " + seconds + " s over " + MIB
                    + " MiB:\n" + console);
        }
        return MIB / seconds;
    }

    /**
     * A transfer that may end early; a failed one is printed and left out (it returns 0), since one stream cut
     * short must not hide the other runs' figures. The section still reports it.
     */
    private static double sample(String what, List<String> failures, Measure m) throws Exception {
        try {
            return m.get();
        } catch (IllegalStateException e) {
            String first = e.getMessage().lines().findFirst().orElse("");
            String oom = e.getMessage().contains("Out of memory") ? " (the writing guest ran out of memory)" : "";
            System.out.println("channels: " + what + " failed: " + first + oom);
            System.err.println(e.getMessage());
            failures.add(what + ": " + first + oom);
            return 0;
        }
    }

    interface HostMeasure {
        double[] get() throws Exception;
    }

    /** Host channel transfers that may end early: printed, recorded and left out (zeros), with the zone's console. */
    private static double[] hostSample(String what, List<String> failures, Path log, long from, HostMeasure m)
            throws Exception {
        try {
            return m.get();
        } catch (IOException | IllegalStateException e) {
            String c = Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
            c = c.length() > from ? c.substring((int) from) : "";
            String oom = c.contains("Out of memory") ? " (the guest ran out of memory)" : "";
            String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            System.out.println("channels: " + what + " failed: " + first + oom);
            System.err.println(e.getMessage() + "\nthe zone's console:\n" + c);
            failures.add(what + ": " + first + oom);
            return new double[] {0, 0};
        }
    }

    /**
     * The folder of a zone-to-zone channel's socket, from the listening QEMU's chardev ({@code path=FOLDER/s}), which
     * the driver binds onto {@code c0} of the connecting zone's own jail root.
     */
    private static Path meetingFolder(List<String> listening, String channel) {
        String prefix = "socket,id=ch-" + channel + ",path=";
        for (String a : listening) {
            if (a.startsWith(prefix) && a.contains(",server=on")) {
                return Path.of(a.substring(prefix.length(), a.indexOf(',', prefix.length()))).getParent();
            }
        }
        throw new IllegalStateException("the listening QEMU has no socket for channel " + channel + ": " + listening);
    }

    /** Waits until no process runs with {@code argv}'s uuid (the zone's QEMU, which the driver started detached). */
    private static void awaitGone(List<String> argv) throws Exception {
        String uuid = argv.get(argv.indexOf("-uuid") + 1);
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (ProcessHandle.allProcesses().anyMatch(h -> h.info().arguments().map(x -> Arrays.asList(x)
                .contains(uuid)).orElse(false) && isLive(h.pid()))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the QEMU of VM " + uuid + " did not end");
            }
            Thread.sleep(20);
        }
    }

    private static boolean isLive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static Path jailRoot(List<String> argv) {
        int at = argv.indexOf("-chroot");
        if (at < 0) {
            throw new IllegalStateException("the connecting zone's QEMU is not jailed: " + argv);
        }
        return Path.of(argv.get(at + 1));
    }

    /**
     * The same QEMU command as a connecting zone's, run directly but in the same place the driver gives it: its
     * own jail root (removed when the zone was destroyed, so made again) with the meeting folder bound onto
     * {@code c0} in a mount namespace of its own, started in that root so that {@code c0/s} names the socket before
     * and after QEMU's chroot. Without it QEMU cannot chroot, or cannot reach the socket.
     */
    private static Process launchConnecting(List<String> argv, Path meeting, List<Process> plain) throws IOException {
        Path root = jailRoot(argv);
        Files.createDirectories(root.resolve("c0"));
        // As through the driver, whose start of the listening zone returns once its QEMU runs: QEMU's first connect
        // must find the socket.
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (!Files.exists(meeting.resolve("s"))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the listening QEMU made no socket in " + meeting);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        Path dir = NetworkDiskBenchmark.consoleLogOf(argv).getParent();
        Files.createDirectories(dir.resolve("channels"));
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                "mount --bind \"$0\" c0 && exec \"$@\"", meeting.toString()));
        cmd.addAll(argv);
        Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true)
                .redirectOutput(new File(dir.resolve("plain-qemu.out").toString())).start();
        plain.add(p);
        return p;
    }

    interface Measure {
        double get() throws Exception;
    }

    /** A failed reading zone's error with the writing zone's console after it: why the stream ended early. */
    private static double withWriter(Path writerLog, long from, Measure m) throws Exception {
        try {
            return m.get();
        } catch (IllegalStateException e) {
            String w = Files.exists(writerLog) ? Files.readString(writerLog, StandardCharsets.ISO_8859_1) : "";
            throw new IllegalStateException(e.getMessage() + "\nthe writing zone's console:\n"
                    + (w.length() > from ? w.substring((int) from) : ""), e);
        }
    }

    /** Where a replay's console output starts: the log may outlive the zone it came from. */
    private static long sizeOf(Path log) throws IOException {
        return Files.exists(log) ? Files.size(log) : 0;
    }

    private static List<String> cmdline(ZoneInfo z) throws IOException {
        return Arrays.asList(new String(Files.readAllBytes(Path.of("/proc/" + z.runtime().get("pid") + "/cmdline")),
                StandardCharsets.UTF_8).split("\0"));
    }

    private static Path socketOf(ZoneInfo z, String channel) {
        String v = z.runtime().get("channel." + channel);
        if (v == null || !v.startsWith("host ")) {
            throw new IllegalStateException("zone " + z.name() + " has no host channel " + channel + ": " + v);
        }
        return Path.of(v.substring("host ".length()));
    }

    /** The same QEMU command, started directly, in a fresh copy of the zone's folder. */
    private static Process launch(List<String> argv, List<Process> plain) throws IOException {
        Path dir = NetworkDiskBenchmark.consoleLogOf(argv).getParent();
        Files.createDirectories(dir.resolve("channels"));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(new File(dir.resolve("plain-qemu.out").toString())).start();
        plain.add(p);
        return p;
    }

    private static void stop(Process p, Path dir) throws Exception {
        p.destroyForcibly().waitFor();
        deleteTree(dir);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static String awaitLine(Path log, String line, long from) throws Exception {
        return awaitLine(log, line, from, "");
    }

    /** The log's text once it holds a line with {@code start} and then {@code end} (after offset {@code from}). */
    private static String awaitLine(Path log, String start, long from, String end) throws Exception {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                String s = Files.readString(log, StandardCharsets.ISO_8859_1);
                s = s.length() > from ? s.substring((int) from) : "";
                int at = s.indexOf(start);
                if (at >= 0 && s.indexOf(end, at) >= 0) {
                    return s;
                }
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("'" + start + "..." + end + "' did not appear in " + log + " within " + LIMIT);
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    private static double round1(double x) {
        return Math.round(x * 10) / 10.0;
    }
}

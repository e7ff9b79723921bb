package io.zonekeeper.itests.bench;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

import jakarta.json.Json;
import jakarta.json.JsonObject;

import io.zonekeeper.itests.faults.ControlClient;

/**
 * Prints what each running zone costs: the appliance's own RSS and thread count, {@code zone:list}'s answer time,
 * and on the host each zone's QEMU (RSS, PSS, CPU while the guest idles), at 0, 10, 50 and 100 running zones (as
 * far as the run goes), each zone with 96 MiB of guest memory. The appliance is the real distribution, driven over
 * its control socket. When host memory would run short first, it says where it stopped and why. A benchmark, not a
 * test: it prints figures and asserts nothing.
 *
 * <p>Run: {@code scripts/bench} ({@code ZK_BENCH_DENSITY=N} sets the number of zones, 10 by default), or
 * {@code java ... DensityBenchmark N [distribution folder]}.
 */
public final class DensityBenchmark {
    private static final int GUEST_MIB = 96;
    private static final Duration ASK = Duration.ofSeconds(60);
    /** Host memory left to everything else; no zone is started that would eat into it. */
    private static final long RESERVE_MIB = Long.parseLong(System.getenv().getOrDefault(
            "ZK_BENCH_DENSITY_RESERVE_MIB", "2048"));

    private final Path state;
    private final Process appliance;
    private final ControlClient control;
    private final List<Long> qemus = new ArrayList<>();
    private long rss0;
    private long threads0;
    /** At one running zone: the shared threads and classes of the driver are there, so growth after it is per zone. */
    private long rss1;
    private long threads1;
    private Map<String, Long> names1 = Map.of();

    private DensityBenchmark(Path state, Process appliance) {
        this.state = state;
        this.appliance = appliance;
        this.control = new ControlClient(state);
    }

    public static void main(String[] args) throws Exception {
        int max = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path dist = Path.of(args.length > 1 ? args[1] : "launcher/target/zonekeeper");
        Path state = Files.createTempDirectory("zk-density");
        Process app = new ProcessBuilder(dist.resolve("bin/zonekeeper").toString(), "--state", state.toString(),
                "--no-shell").redirectErrorStream(true).redirectOutput(state.resolveSibling(state.getFileName()
                        + ".log").toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        DensityBenchmark bench = new DensityBenchmark(state, app);
        try {
            bench.run(max);
        } finally {
            bench.tearDown();
        }
    }

    private void run(int max) throws Exception {
        Path sock = state.resolve("run/control.sock");
        for (int i = 0; i < 600 && !Files.exists(sock); i++) {
            Thread.sleep(100);
        }
        // zone-core's commands come a moment after the socket.
        for (int i = 0; i < 100 && !control.run("zone:list", ASK).ok(); i++) {
            Thread.sleep(100);
        }
        TreeSet<Integer> checkpoints = new TreeSet<>(List.of(0, 1, 10, 50, 100, max));
        checkpoints.removeIf(n -> n > max);
        System.out.println("density: appliance pid " + appliance.pid() + ", up to " + max + " zones of " + GUEST_MIB
                + " MiB guest memory, " + RESERVE_MIB + " MiB of host memory kept free");
        report(0);
        for (int i = 1; i <= max; i++) {
            long available = memAvailableMiB();
            long perZone = qemus.isEmpty() ? 2 * GUEST_MIB : Math.max(GUEST_MIB, meanRssMiB());
            if (available - perZone < RESERVE_MIB) {
                System.out.printf("density: ceiling %d zones: host memory (MemAvailable %d MiB, a zone's QEMU takes "
                        + "about %d MiB, %d MiB kept free for the rest of the machine)%n", i - 1, available, perZone,
                        RESERVE_MIB);
                if (!checkpoints.contains(i - 1)) {
                    report(i - 1);
                }
                return;
            }
            String name = "d" + i;
            ControlClient.Answer a = control.run("zone:create --hypervisor kvm --memory " + GUEST_MIB + " --start "
                    + name, ASK);
            if (!a.ok()) {
                System.out.println("density: ceiling " + (i - 1) + " zones: zone " + name + " did not start: "
                        + a.err().strip());
                return;
            }
            ControlClient.Answer ready = control.run("zone:wait --timeout 300 --console 'zonekeeper: zone " + name
                    + " ready' " + name, Duration.ofSeconds(320));
            qemuPid(name).ifPresent(qemus::add);
            if (!ready.ok()) {
                System.out.println("density: ceiling " + (i - 1) + " zones: zone " + name + " did not boot: "
                        + ready.err().strip());
                return;
            }
            if (checkpoints.contains(i)) {
                report(i);
            }
        }
    }

    /** One line per figure at {@code n} running zones. */
    private void report(int n) throws Exception {
        Thread.sleep(2000); // the last guest's boot settles
        Map<String, Long> status = procStatus(appliance.pid());
        long rss = status.getOrDefault("VmRSS", 0L);
        long threads = status.getOrDefault("Threads", 0L);
        Map<String, Long> names = threadNames(appliance.pid());
        if (n == 0) {
            rss0 = rss;
            threads0 = threads;
        } else if (n == 1) {
            rss1 = rss;
            threads1 = threads;
            names1 = names;
        }
        List<Long> listMs = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            long t0 = System.nanoTime();
            control.run("zone:list", ASK);
            listMs.add((System.nanoTime() - t0) / 1_000_000);
        }
        Collections.sort(listMs);
        String growth = n == 0 ? "" : String.format(", %+d KiB and %+.1f threads per zone against 0 zones",
                (rss - rss0) / n, (threads - threads0) / (double) n);
        if (n > 1) {
            growth += String.format("; %+d KiB and %+.2f threads per zone after the first (whose driver start-up, "
                    + "image and shared watchers are one-off)", (rss - rss1) / (n - 1), (threads - threads1)
                            / (double) (n - 1));
            List<String> grew = new ArrayList<>();
            names.forEach((name, count) -> {
                long before = names1.getOrDefault(name, 0L);
                if (count > before) {
                    grew.add(name + " " + before + "->" + count);
                }
            });
            growth += "; threads that grew since: " + (grew.isEmpty() ? "none" : String.join(", ", grew));
        }
        System.out.printf("density: %d zones: appliance RSS %d MiB, %d threads%s%n", n, rss / 1024, threads, growth);
        System.out.printf("density: %d zones: zone:list answers in %d ms median, %d ms max (7 asks over the control"
                + " socket)%n", n, listMs.get(listMs.size() / 2), listMs.get(listMs.size() - 1));
        if (n > 0) {
            long rssSum = 0;
            long pssSum = 0;
            for (long pid : qemus) {
                Map<String, Long> smaps = smapsRollup(pid);
                rssSum += smaps.getOrDefault("Rss", 0L);
                pssSum += smaps.getOrDefault("Pss", 0L);
            }
            double cpu = idleCpuPercent(Duration.ofSeconds(5));
            System.out.printf("density: %d zones: per zone on the host: QEMU RSS %d MiB, PSS %d MiB, %.1f %% of a CPU"
                    + " while the guest idles (mean of %d)%n", n, rssSum / qemus.size() / 1024, pssSum / qemus.size()
                            / 1024, cpu, qemus.size());
        }
    }

    private long meanRssMiB() {
        long sum = 0;
        for (long pid : qemus) {
            sum += smapsRollup(pid).getOrDefault("Rss", 0L);
        }
        return sum / qemus.size() / 1024;
    }

    /** The mean CPU the zones' QEMUs use over {@code span}, in percent of one CPU per zone. */
    private double idleCpuPercent(Duration span) throws InterruptedException {
        long before = 0;
        for (long pid : qemus) {
            before += cpuTicks(pid);
        }
        long t0 = System.nanoTime();
        Thread.sleep(span.toMillis());
        long after = 0;
        for (long pid : qemus) {
            after += cpuTicks(pid);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        // USER_HZ is 100 on Linux.
        return (after - before) / 100.0 / seconds * 100 / qemus.size();
    }

    private static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The appliance's threads by name (a pool's threads share one), from /proc/PID/task/TID/comm. */
    private static Map<String, Long> threadNames(long pid) throws IOException {
        Map<String, Long> names = new java.util.TreeMap<>();
        try (var tasks = Files.list(Path.of("/proc", String.valueOf(pid), "task"))) {
            for (Path t : tasks.toList()) {
                try {
                    names.merge(Files.readString(t.resolve("comm")).strip().replaceAll("[-0-9]+$", ""), 1L,
                            Long::sum);
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return names;
    }

    /** The kB figures of /proc/PID/status (VmRSS, Threads as a count). */
    private static Map<String, Long> procStatus(long pid) throws IOException {
        return keyNumbers(Path.of("/proc", String.valueOf(pid), "status"));
    }

    private static Map<String, Long> smapsRollup(long pid) {
        try {
            return keyNumbers(Path.of("/proc", String.valueOf(pid), "smaps_rollup"));
        } catch (IOException e) {
            return Map.of();
        }
    }

    private static Map<String, Long> keyNumbers(Path file) throws IOException {
        Map<String, Long> m = new java.util.HashMap<>();
        for (String line : Files.readAllLines(file)) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String[] v = line.substring(colon + 1).trim().split("\\s+");
            try {
                m.put(line.substring(0, colon).trim(), Long.parseLong(v[0]));
            } catch (NumberFormatException e) {
                // not a number (a name, a list of cpus)
            }
        }
        return m;
    }

    private static long memAvailableMiB() throws IOException {
        return keyNumbers(Path.of("/proc/meminfo")).getOrDefault("MemAvailable", 0L) / 1024;
    }

    private Optional<Long> qemuPid(String name) throws IOException {
        ControlClient.Answer a = control.run("zone:info --json " + name, ASK);
        if (!a.ok()) {
            return Optional.empty();
        }
        JsonObject info = Json.createReader(new StringReader(a.out())).readObject();
        JsonObject runtime = info.getJsonObject("runtime");
        return runtime == null || !runtime.containsKey("pid") ? Optional.empty()
                : Optional.of(Long.parseLong(runtime.getString("pid")));
    }

    /** Destroys the zones, ends the appliance, then kills by PID any QEMU of this run that is still there. */
    private void tearDown() {
        for (int i = 1; i <= qemus.size() + 1; i++) {
            try {
                control.run("zone:destroy d" + i, ASK);
            } catch (IOException e) {
                break; // the appliance is gone; the QEMUs are killed below
            }
        }
        appliance.destroy();
        try {
            if (!appliance.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                appliance.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (long pid : qemus) {
            ProcessHandle.of(pid).filter(p -> p.info().command().map(c -> c.contains("qemu")).orElse(false))
                    .ifPresent(ProcessHandle::destroyForcibly);
        }
    }
}

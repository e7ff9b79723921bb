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
 * <p>The appliance's figures are taken after two full collections ({@code jcmd PID GC.run}), so that its RSS is not
 * whatever garbage the last commands left; its heap after them (live objects) and its open descriptors are printed
 * too. The first zone pays one-off costs (the driver's classes, the kernel's extraction into the image cache of a
 * fresh state directory, the shared QMP reader and exit watcher), so the per-zone growth is the slope between two
 * later checkpoints: 10 and 50 zones (and 50 and 100). Before each next zone it reads MemAvailable and stops, with
 * the ceiling and its reason, when the zone would eat into the reserve; every QEMU it started is killed by PID at
 * the end, also when it is interrupted.
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
    private final List<Long> qemus = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final BenchFigures figures = new BenchFigures("density");
    /** The appliance's figures at each checkpoint so far, by number of zones. */
    private final java.util.TreeMap<Integer, Sample> samples = new java.util.TreeMap<>();
    /** At one running zone: the shared threads and classes of the driver are there, so growth after it is per zone. */
    private Map<String, Long> names1 = Map.of();
    private long listMs0;
    private long availableAtStartMiB;
    private boolean tornDown;
    /** Zones asked for so far (d1 .. dN), each destroyed at the end. */
    private volatile int created;

    /** The appliance after two full collections: RSS and heap used in KiB, threads, open descriptors. */
    private record Sample(long rssKiB, long heapKiB, long threads, long fds) {
    }

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
        // Interrupted (Ctrl-C, a section's timeout): the QEMUs started so far are still killed by PID.
        Thread hook = new Thread(bench::tearDown, "density-teardown");
        Runtime.getRuntime().addShutdownHook(hook);
        Path log = state.resolveSibling(state.getFileName() + ".log");
        boolean done = false;
        try {
            bench.run(max);
            done = true;
        } finally {
            bench.tearDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs tearDown again, which does nothing the second time
            }
            // The state folder goes; the appliance's log stays only when the run failed.
            deleteTree(state);
            if (done) {
                Files.deleteIfExists(log);
            } else {
                System.err.println("density: the appliance's log is in " + log);
            }
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
        availableAtStartMiB = memAvailableMiB();
        System.out.println("density: appliance pid " + appliance.pid() + ", up to " + max + " zones of " + GUEST_MIB
                + " MiB guest memory, " + RESERVE_MIB + " MiB of host memory kept free; MemAvailable "
                + availableAtStartMiB + " MiB, load " + loadAverage() + (jcmd().isPresent() ? ""
                        : "; no jcmd next to this java, so the appliance's RSS is read without a full GC first"));
        report(0);
        for (int i = 1; i <= max; i++) {
            long available = memAvailableMiB();
            long perZone = perZoneEstimateMiB();
            if (available - perZone < RESERVE_MIB) {
                System.out.printf("density: ceiling %d zones: host memory (MemAvailable %d MiB; the next zone would "
                        + "take about %d MiB, %s; %d MiB kept free for the rest of the machine)%n", i - 1, available,
                        perZone, qemus.isEmpty() ? "twice its guest memory before any zone ran"
                                : "the most of its QEMUs' mean PSS and MemAvailable's mean drop per zone so far",
                        RESERVE_MIB);
                figures.figure("ceiling (host memory)", i - 1, "zones");
                if (!checkpoints.contains(i - 1)) {
                    report(i - 1);
                }
                return;
            }
            String name = "d" + i;
            created = i;
            ControlClient.Answer a = control.run("zone:create --hypervisor kvm --memory " + GUEST_MIB + " --start "
                    + name, ASK);
            // Known before the wait, so that an interrupted run still kills this QEMU by PID.
            qemuPid(name).ifPresent(qemus::add);
            if (!a.ok()) {
                System.out.println("density: ceiling " + (i - 1) + " zones: zone " + name + " did not start: "
                        + a.err().strip());
                figures.figure("ceiling (a zone did not start)", i - 1, "zones");
                report(i - 1);
                return;
            }
            ControlClient.Answer ready = control.run("zone:wait --timeout 300 --console 'zonekeeper: zone " + name
                    + " ready' " + name, Duration.ofSeconds(320));
            if (!ready.ok()) {
                System.out.println("density: ceiling " + (i - 1) + " zones: zone " + name + " did not boot within "
                        + "300 s (host CPU or memory; load " + loadAverage() + "): " + ready.err().strip());
                figures.figure("ceiling (a zone did not boot)", i - 1, "zones");
                report(i - 1);
                return;
            }
            if (checkpoints.contains(i)) {
                report(i);
            }
        }
    }

    /**
     * What the next zone will take from the host, in MiB: before any zone twice its guest memory; then the most of
     * the QEMUs' mean PSS (their shared pages, the kernel QEMU maps from the image cache, split between them) and
     * MemAvailable's mean drop per running zone (which other work on the machine also moves).
     */
    private long perZoneEstimateMiB() throws IOException {
        if (qemus.isEmpty()) {
            return 2L * GUEST_MIB;
        }
        long drop = (availableAtStartMiB - memAvailableMiB()) / qemus.size();
        return Math.max(GUEST_MIB, Math.max(meanKiB("Pss") / 1024, drop));
    }

    /** The appliance's RSS, heap, threads and descriptors after two full collections. */
    private Sample sample() throws Exception {
        Optional<Path> jcmd = jcmd();
        long heap = -1;
        if (jcmd.isPresent()) {
            for (int i = 0; i < 2; i++) {
                runQuietly(jcmd.get().toString(), String.valueOf(appliance.pid()), "GC.run");
                Thread.sleep(500);
            }
            heap = heapUsedKiB(runQuietly(jcmd.get().toString(), String.valueOf(appliance.pid()), "GC.heap_info"));
        }
        Map<String, Long> status = procStatus(appliance.pid());
        long fds;
        try (var s = Files.list(Path.of("/proc", String.valueOf(appliance.pid()), "fd"))) {
            fds = s.count();
        }
        return new Sample(status.getOrDefault("VmRSS", 0L), heap, status.getOrDefault("Threads", 0L), fds);
    }

    /** The sum of each generation's "used" in {@code jcmd GC.heap_info}'s answer (SerialGC, G1, Parallel alike). */
    static long heapUsedKiB(String heapInfo) {
        long used = 0;
        boolean any = false;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("total \\d+K, used (\\d+)K").matcher(heapInfo);
        while (m.find()) {
            used += Long.parseLong(m.group(1));
            any = true;
        }
        return any ? used : -1;
    }

    private static Optional<Path> jcmd() {
        Path p = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }

    private static String runQuietly(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    /** One line per figure at {@code n} running zones. */
    private void report(int n) throws Exception {
        Thread.sleep(2000); // the last guest's boot settles
        Sample s = sample();
        samples.put(n, s);
        Map<String, Long> names = threadNames(appliance.pid());
        if (n == 1) {
            names1 = names;
        }
        List<Long> listMs = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            long t0 = System.nanoTime();
            control.run("zone:list", ASK);
            listMs.add((System.nanoTime() - t0) / 1_000_000);
        }
        Collections.sort(listMs);
        long listMedian = listMs.get(listMs.size() / 2);
        if (n == 0) {
            listMs0 = listMedian;
        }
        System.out.printf("density: %d zones: appliance RSS %d KiB, heap %s, %d threads, %d open descriptors (after "
                + "two full GCs), load %s%n", n, s.rssKiB(), s.heapKiB() < 0 ? "?" : s.heapKiB() + " KiB",
                s.threads(), s.fds(), loadAverage());
        if (n > 0) {
            Sample zero = samples.get(0);
            System.out.printf("density: %d zones: against 0 zones, per zone: %+d KiB RSS, %+d KiB heap, %+.2f threads"
                    + ", %+.2f descriptors (the first zone's one-off costs included)%n", n,
                    (s.rssKiB() - zero.rssKiB()) / n, (s.heapKiB() - zero.heapKiB()) / n,
                    (s.threads() - zero.threads()) / (double) n, (s.fds() - zero.fds()) / (double) n);
        }
        // The slope since the previous checkpoint from 10 zones on (or from the first zone in a short run).
        Integer from = samples.lowerKey(n);
        while (from != null && from > 0 && samples.lowerKey(from) != null && samples.lowerKey(from) > 0
                && n - from < 10) {
            from = samples.lowerKey(from);
        }
        if (from != null && from >= 1 && n > from) {
            Sample a = samples.get(from);
            int d = n - from;
            long rssPerZone = (s.rssKiB() - a.rssKiB()) / d;
            long heapPerZone = (s.heapKiB() - a.heapKiB()) / d;
            List<String> grew = new ArrayList<>();
            names.forEach((name, count) -> {
                long before = names1.getOrDefault(name, 0L);
                if (count > before) {
                    grew.add(name + " " + before + "->" + count);
                }
            });
            System.out.printf("density: %d -> %d zones: per zone %+d KiB RSS (target <= 256), %+d KiB heap, %+.2f "
                    + "threads, %+.2f descriptors; threads that grew since 1 zone: %s%n", from, n, rssPerZone,
                    heapPerZone, (s.threads() - a.threads()) / (double) d, (s.fds() - a.fds()) / (double) d,
                    grew.isEmpty() ? "none" : String.join(", ", grew));
            figures.figure("appliance RSS per zone, " + from + " -> " + n + " zones", rssPerZone, "KiB");
            figures.figure("appliance heap per zone, " + from + " -> " + n + " zones", heapPerZone, "KiB");
            figures.figure("appliance threads per zone, " + from + " -> " + n + " zones",
                    (s.threads() - a.threads()) / (double) d, "threads");
        }
        System.out.printf("density: %d zones: zone:list answers in %d ms median, %d ms max (7 asks over the control"
                + " socket; at 0 zones %d ms)%n", n, listMedian, listMs.get(listMs.size() - 1), listMs0);
        figures.figure("appliance RSS, " + n + " zones", s.rssKiB(), samples.get(0).rssKiB(), "KiB", null);
        figures.figure("appliance threads, " + n + " zones", s.threads(), samples.get(0).threads(), "threads", null);
        figures.figure("zone:list median, " + n + " zones", listMedian, listMs0, "ms", "< 100 with 100 zones");
        if (n > 0 && !qemus.isEmpty()) {
            double cpu = idleCpuPercent(Duration.ofSeconds(10));
            long rss = meanKiB("Rss");
            long pss = meanKiB("Pss");
            long anon = meanKiB("Pss_Anon");
            System.out.printf("density: %d zones: per zone on the host: QEMU RSS %d MiB, PSS %d MiB (of which %d MiB "
                    + "its own anonymous memory: guest RAM, translation buffer, QEMU's heap), %.2f %% of a CPU while "
                    + "the guest idles (mean of %d); MemAvailable %d MiB (%d MiB at the start); the appliance meanwhile"
                    + " %.1f %% of a CPU%n", n, rss / 1024, pss / 1024, anon / 1024, cpu, qemus.size(),
                    memAvailableMiB(), availableAtStartMiB, applianceCpu);
            int cores = Runtime.getRuntime().availableProcessors();
            System.out.printf("density: %d zones: their QEMUs idle take %.0f %% of the machine's %d cores together "
                    + "(at this rate %d idle zones would fill them: the CPU ceiling)%n", n, cpu * qemus.size()
                            / cores, cores, cpu <= 0 ? 0 : (long) (cores * 100 / cpu));
            figures.figure("QEMU RSS per zone, " + n + " zones", rss / 1024.0, "MiB");
            figures.figure("QEMU PSS per zone, " + n + " zones", pss / 1024.0, "MiB");
            figures.figure("QEMU idle CPU per zone, " + n + " zones", cpu, "% of a CPU");
            figures.figure("appliance CPU while " + n + " zones idle", applianceCpu, "% of a CPU");
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }

    /** The mean of one smaps_rollup figure (Rss, Pss, Pss_Anon) over this run's QEMUs that are still there, in KiB. */
    private long meanKiB(String key) {
        long sum = 0;
        int n = 0;
        for (long pid : qemus) {
            Map<String, Long> m = smapsRollup(pid);
            if (m.containsKey(key)) {
                sum += m.get(key);
                n++;
            }
        }
        return n == 0 ? 0 : sum / n;
    }

    /** The appliance's own CPU over the last {@link #idleCpuPercent} span, in percent of one CPU. */
    private double applianceCpu;

    /**
     * The mean CPU the zones' QEMUs use over {@code span}, in percent of one CPU per zone; the appliance's own over
     * the same span goes to {@link #applianceCpu}.
     */
    private double idleCpuPercent(Duration span) throws InterruptedException {
        long before = 0;
        for (long pid : qemus) {
            before += cpuTicks(pid);
        }
        long app0 = cpuTicks(appliance.pid());
        long t0 = System.nanoTime();
        Thread.sleep(span.toMillis());
        long after = 0;
        for (long pid : qemus) {
            after += cpuTicks(pid);
        }
        long app1 = cpuTicks(appliance.pid());
        double seconds = (System.nanoTime() - t0) / 1e9;
        // USER_HZ is 100 on Linux.
        applianceCpu = (app1 - app0) / 100.0 / seconds * 100;
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

    private static void deleteTree(Path root) {
        try (var all = Files.walk(root)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // best effort: a temp folder
                }
            });
        } catch (IOException e) {
            System.err.println("density: could not remove " + root + ": " + e.getMessage());
        }
    }

    /**
     * Destroys the zones, ends the appliance, then kills by PID any QEMU of this run that is still there. Runs once:
     * from the end of {@link #main} or, when the run is interrupted, from the shutdown hook.
     */
    private synchronized void tearDown() {
        if (tornDown) {
            return;
        }
        tornDown = true;
        for (int i = 1; i <= created; i++) {
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

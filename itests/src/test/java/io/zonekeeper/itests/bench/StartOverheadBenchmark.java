package io.zonekeeper.itests.bench;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.kvm.KvmDriver;

/**
 * Prints what Zonekeeper adds to a zone's start: create + start through the registry and the KVM driver, up to
 * the guest's own ready line, against plain QEMU run with exactly the same arguments (read back from the zone's
 * QEMU process), in the same run. A benchmark, not a test: it prints figures and asserts nothing.
 *
 * <p>And where the time goes, per run and as medians, on the wall clock: {@code create} (the registry's create),
 * {@code to QEMU} (from the start call to the moment QEMU wrote its pidfile, early in its own start: the registry,
 * the resource providers, the driver's plan and jail, the spawn through setsid, and QEMU's own start up to there),
 * {@code start call} (until {@code start} returned: after the pidfile also the QMP handshake and the runtime
 * record, while the guest already boots) and {@code boot} (pidfile to the ready line). The plain run has only
 * {@code to QEMU} (spawn to pidfile) and {@code boot}; the difference between the two {@code to QEMU} figures is
 * what Zonekeeper does before QEMU runs, and the difference between the two {@code boot} figures is what its
 * work beside the running guest (QMP, console capture, watchers) costs the guest.
 *
 * <p>Run: {@code scripts/bench} (or {@code mvn -pl itests exec:java} with this class).
 */
public final class StartOverheadBenchmark {
    private static final Duration BOOT_LIMIT = Duration.ofSeconds(60);

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path state = Files.createTempDirectory("zk-bench");
        ZoneRegistry registry = new ZoneRegistry();
        registry.open(state, null, Duration.ofSeconds(15), Duration.ofSeconds(10));
        KvmDriver driver = new KvmDriver(new KvmDriver.Settings(state, "qemu-system-x86_64", "auto", null));
        registry.addDriver(driver, "kvm-driver", "benchmark");
        try {
            System.out.println("start overhead: warming up (zone image and accelerator self-test are built once)");
            zonekeeperStart(registry, "warm", new ArrayList<>());
            List<Long> zk = new ArrayList<>();
            List<Long> plain = new ArrayList<>();
            List<Phases> zkPhases = new ArrayList<>();
            List<Phases> plainPhases = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                List<String> argv = new ArrayList<>();
                Phases z = zonekeeperStart(registry, "z" + i, argv);
                Phases p = plainQemuStart(argv, "z" + i);
                zkPhases.add(z);
                plainPhases.add(p);
                zk.add(z.total());
                plain.add(p.total());
                System.out.printf("start overhead: run %d: zonekeeper %d ms (%s), plain qemu %d ms (%s)%n", i + 1,
                        z.total(), z, p.total(), p);
                System.out.printf("start overhead: run %d: the kvm driver's start, step by step (ms): %s%n", i + 1,
                        z.steps());
            }
            long zkMedian = median(zk);
            long plainMedian = median(plain);
            String accel = driver.capabilities().details().get("accel");
            System.out.printf("start overhead: accelerator %s%n", accel);
            Phases zm = Phases.median(zkPhases);
            Phases pm = Phases.median(plainPhases);
            System.out.printf("start overhead: where the time goes (medians, ms): zonekeeper %s; plain qemu %s;"
                    + " before QEMU runs Zonekeeper adds %+d ms, beside the booting guest %+d ms%n", zm, pm,
                    zm.create + zm.toQemu - pm.toQemu, zm.boot - pm.boot);
            System.out.printf("start overhead: the kvm driver's start, step by step (medians, ms): %s (launch: QEMU's"
                    + " spawn to its pidfile and QMP socket, QEMU's own %d ms of it)%n", Phases.medianSteps(zkPhases),
                    pm.toQemu);
            System.out.printf("start overhead: median create+start to guest ready: zonekeeper %d ms, plain qemu %d ms,"
                    + " ratio %.2f (%d runs)%n", zkMedian, plainMedian, (double) zkMedian / plainMedian, runs);
            BenchFigures figures = new BenchFigures("start-overhead");
            figures.figure("create+start to the ready line (" + accel + ")", zkMedian, plainMedian, "ms",
                    "<= 1.03");
            figures.figure("create, median", zm.create, "ms");
            figures.figure("start call to QEMU's pidfile, median", zm.toQemu, pm.toQemu, "ms", null);
            figures.figure("start call returned, median", zm.startCall, "ms");
            figures.figure("QEMU's pidfile to the ready line, median", zm.boot, pm.boot, "ms", null);
        } finally {
            for (ZoneInfo z : registry.list()) {
                registry.destroy(z.name());
            }
            registry.close();
            driver.deactivate();
            // The state folder holds the zone image cache (tens of MiB): a run leaves nothing behind in /tmp.
            try (var walk = Files.walk(state)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /**
     * One start's phases in ms, on the wall clock (the pidfile's mtime is QEMU's moment). {@code create} and
     * {@code startCall} are 0 for plain QEMU.
     */
    record Phases(long create, long toQemu, long startCall, long boot, String steps) {
        Phases(long create, long toQemu, long startCall, long boot) {
            this(create, toQemu, startCall, boot, "");
        }

        long total() {
            return create + toQemu + boot;
        }

        static Phases median(List<Phases> ps) {
            return new Phases(med(ps, Phases::create), med(ps, Phases::toQemu), med(ps, Phases::startCall),
                    med(ps, Phases::boot));
        }

        /**
         * The median of each step of the driver's {@code start.phases} ("scan 4, plan 6, ..."), in the steps' order;
         * a step missing from a run counts as absent from that run.
         */
        static String medianSteps(List<Phases> ps) {
            java.util.Map<String, List<Long>> byStep = new java.util.LinkedHashMap<>();
            for (Phases p : ps) {
                for (String step : p.steps().split(", ")) {
                    int sp = step.lastIndexOf(' ');
                    if (sp > 0) {
                        byStep.computeIfAbsent(step.substring(0, sp), k -> new ArrayList<>())
                                .add(Long.parseLong(step.substring(sp + 1)));
                    }
                }
            }
            List<String> out = new ArrayList<>();
            byStep.forEach((step, ms) -> out.add(step + " " + StartOverheadBenchmark.median(ms)));
            return out.isEmpty() ? "not recorded" : String.join(", ", out);
        }

        private static long med(List<Phases> ps, java.util.function.ToLongFunction<Phases> f) {
            return StartOverheadBenchmark.median(ps.stream().map(f::applyAsLong).toList());
        }

        @Override
        public String toString() {
            return (startCall > 0 ? "create " + create + ", start call to QEMU's pidfile " + toQemu
                    + ", start call returned after " + startCall : "spawn to QEMU's pidfile " + toQemu)
                    + ", pidfile to ready line " + boot;
        }
    }

    /** Microseconds since the epoch, the clock file times use. */
    private static long nowMicros() {
        Instant t = Instant.now();
        return t.getEpochSecond() * 1_000_000 + t.getNano() / 1000;
    }

    private static long pidfileMicros(List<String> argv) throws Exception {
        int at = argv.indexOf("-pidfile");
        if (at < 0) {
            throw new IllegalStateException("no -pidfile in the QEMU arguments: " + argv);
        }
        return Files.getLastModifiedTime(Path.of(argv.get(at + 1))).to(TimeUnit.MICROSECONDS);
    }

    /** Create + start through the registry, to the guest's ready line; the QEMU arguments go into {@code argv}. */
    private static Phases zonekeeperStart(ZoneRegistry registry, String name, List<String> argv) throws Exception {
        long t0 = nowMicros();
        registry.create(ZoneSpec.builder(name).hypervisor("kvm").build());
        long created = nowMicros();
        ZoneInfo z = registry.start(name);
        long started = nowMicros();
        long pid = Long.parseLong(z.runtime().get("pid"));
        argv.addAll(Arrays.asList(new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")),
                StandardCharsets.UTF_8).split("\0")));
        long qemu = pidfileMicros(argv);
        awaitLine(registry.consoleLog(name), "zonekeeper: zone " + name + " ready");
        long ready = nowMicros();
        registry.destroy(name);
        return new Phases((created - t0) / 1000, (qemu - created) / 1000, (started - created) / 1000,
                (ready - qemu) / 1000, z.runtime().getOrDefault(KvmDriver.R_START_PHASES, "not recorded"));
    }

    /** The same QEMU command, started directly, to the same ready line. */
    private static Phases plainQemuStart(List<String> argv, String name) throws Exception {
        Path log = null;
        for (String a : argv) {
            int at = a.indexOf("logfile=");
            if (at >= 0) {
                log = Path.of(a.substring(at + "logfile=".length()).split(",")[0]);
            }
        }
        if (log == null) {
            throw new IllegalStateException("no console log file in the QEMU arguments: " + argv);
        }
        Path dir = log.getParent();
        Files.createDirectories(dir.resolve("channels"));
        long t0 = nowMicros();
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(new File(dir.resolve("plain-qemu.out").toString())).start();
        try {
            awaitLine(log, "zonekeeper: zone " + name + " ready");
            long ready = nowMicros();
            long qemu = pidfileMicros(argv);
            return new Phases(0, (qemu - t0) / 1000, 0, (ready - qemu) / 1000);
        } finally {
            p.destroyForcibly().waitFor();
            try (var walk = Files.walk(dir)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    static void awaitLine(Path log, String line) throws Exception {
        long deadline = System.nanoTime() + BOOT_LIMIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(line)) {
                return;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("'" + line + "' did not appear in " + log + " within " + BOOT_LIMIT);
    }

    static long median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }
}

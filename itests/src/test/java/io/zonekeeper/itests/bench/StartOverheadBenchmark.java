package io.zonekeeper.itests.bench;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.kvm.KvmDriver;

/**
 * Prints what Zonekeeper adds to a zone's start: create + start through the registry and the KVM driver, up to
 * the guest's own ready line, against plain QEMU run with exactly the same arguments (read back from the zone's
 * QEMU process), in the same run. A benchmark, not a test: it prints figures and asserts nothing.
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
            for (int i = 0; i < runs; i++) {
                List<String> argv = new ArrayList<>();
                zk.add(zonekeeperStart(registry, "z" + i, argv));
                plain.add(plainQemuStart(argv, "z" + i));
                System.out.printf("start overhead: run %d: zonekeeper %d ms, plain qemu %d ms%n", i + 1,
                        zk.get(i), plain.get(i));
            }
            long zkMedian = median(zk);
            long plainMedian = median(plain);
            System.out.printf("start overhead: accelerator %s%n", driver.capabilities().details().get("accel"));
            System.out.printf("start overhead: median create+start to guest ready: zonekeeper %d ms, plain qemu %d ms,"
                    + " ratio %.2f (%d runs)%n", zkMedian, plainMedian, (double) zkMedian / plainMedian, runs);
        } finally {
            for (ZoneInfo z : registry.list()) {
                registry.destroy(z.name());
            }
            registry.close();
            driver.deactivate();
        }
    }

    /** Create + start through the registry, to the guest's ready line; the QEMU arguments go into {@code argv}. */
    private static long zonekeeperStart(ZoneRegistry registry, String name, List<String> argv) throws Exception {
        long t0 = System.nanoTime();
        registry.create(ZoneSpec.builder(name).hypervisor("kvm").build());
        ZoneInfo z = registry.start(name);
        awaitLine(registry.consoleLog(name), "zonekeeper: zone " + name + " ready");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        long pid = Long.parseLong(z.runtime().get("pid"));
        argv.addAll(Arrays.asList(new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")),
                StandardCharsets.UTF_8).split("\0")));
        registry.destroy(name);
        return ms;
    }

    /** The same QEMU command, started directly, to the same ready line. */
    private static long plainQemuStart(List<String> argv, String name) throws Exception {
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
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(new File(dir.resolve("plain-qemu.out").toString())).start();
        try {
            awaitLine(log, "zonekeeper: zone " + name + " ready");
            return (System.nanoTime() - t0) / 1_000_000;
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

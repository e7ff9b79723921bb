package io.zonekeeper.itests.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.example.zonekeeper.tpm.SwtpmBackend;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.kvm.KvmDriver;
import io.zonekeeper.kvm.qemu.Machine;

/**
 * Prints what each machine a zone can get costs at start: create + start through the registry and the KVM driver,
 * up to the guest's ready line, for microvm-pvh (every zone without devices), q35-pvh (what PCI functions need),
 * q35-firmware (what a TPM needs) and a zone with a real TPM from the example vendor bundle (q35-firmware plus a
 * swtpm per start). The runs of the machines are interleaved, so that a noisy host weighs on each alike. A benchmark,
 * not a test: it prints figures and asserts nothing.
 */
public final class MachineBootBenchmark {
    private static final Duration BOOT_LIMIT = Duration.ofSeconds(240);

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Map<String, List<Long>> ms = new LinkedHashMap<>();
        List<Bench> benches = new ArrayList<>();
        for (Machine m : Machine.values()) {
            benches.add(new Bench(m.id(), m, false));
        }
        benches.add(new Bench("tpm (q35-firmware + swtpm)", Machine.MICROVM_PVH, true));
        try {
            System.out.println("machine boot: warming up (zone image and accelerator self-test are built once)");
            benches.get(0).start("warm");
            for (int i = 0; i < runs; i++) {
                for (Bench b : benches) {
                    long t = b.start("r" + i);
                    ms.computeIfAbsent(b.label, k -> new ArrayList<>()).add(t);
                    System.out.printf("machine boot: run %d: %s %d ms%n", i + 1, b.label, t);
                }
            }
            System.out.printf("machine boot: accelerator %s; load %s%n",
                    benches.get(0).driver.capabilities().details().get("accel"),
                    Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
            ms.forEach((label, xs) -> System.out.printf("machine boot: median create+start to guest ready: %s %d ms"
                    + " (%d runs)%n", label, median(xs), xs.size()));
        } finally {
            benches.forEach(Bench::close);
        }
    }

    /** A registry and a KVM driver whose least machine is {@code machine}; with a TPM backend if asked. */
    private static final class Bench {
        final String label;
        final boolean tpm;
        final Path state;
        final ZoneRegistry registry = new ZoneRegistry();
        final KvmDriver driver;

        Bench(String label, Machine machine, boolean tpm) throws Exception {
            this.label = label;
            this.tpm = tpm;
            // Short: socket paths in zone folders must stay under 108 bytes.
            state = Files.createTempDirectory(Path.of("/tmp"), "zk-mb");
            registry.open(state, null, Duration.ofSeconds(15), Duration.ofSeconds(30));
            driver = new KvmDriver(new KvmDriver.Settings(state, "qemu-system-x86_64", "auto", null, machine));
            registry.addDriver(driver, "kvm-driver", "benchmark");
            if (tpm) {
                registry.addDeviceBackend(new SwtpmBackend(state, "swtpm", "tpm-tis"));
            }
        }

        long start(String name) throws Exception {
            ZoneSpec.Builder spec = ZoneSpec.builder(name).hypervisor("kvm").memoryMiB(128);
            if (tpm) {
                spec.device(DeviceSpec.of("tpm"));
            }
            long t0 = System.nanoTime();
            registry.create(spec.build());
            registry.start(name);
            awaitLine(registry.consoleLog(name), "zonekeeper: zone " + name + " ready");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            registry.destroy(name);
            return ms;
        }

        void close() {
            try {
                for (ZoneInfo z : registry.list()) {
                    registry.destroy(z.name());
                }
            } catch (Exception e) {
                System.out.println("machine boot: cleaning up " + label + ": " + e.getMessage());
            }
            registry.close();
            driver.deactivate();
            try (var walk = Files.walk(state)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (Exception ignored) {
                // a temp folder left behind
            }
        }
    }

    private static void awaitLine(Path log, String line) throws Exception {
        long deadline = System.nanoTime() + BOOT_LIMIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(line)) {
                return;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("'" + line + "' did not appear in " + log + " within " + BOOT_LIMIT);
    }

    private static long median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }
}

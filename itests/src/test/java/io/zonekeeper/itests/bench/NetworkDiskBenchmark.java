package io.zonekeeper.itests.bench;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.disk.Disks;
import io.zonekeeper.kvm.KvmDriver;
import io.zonekeeper.network.Networks;
import io.zonekeeper.network.host.IpHost;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.ZoneResourceProvider;

/**
 * Prints what networks and disks cost: (1) the time a network and a disk add to a zone's start, through
 * Zonekeeper and through plain QEMU with the same arguments (taps made by hand), and (2) zone-to-zone TCP
 * throughput (busybox dd | nc, 64 MiB, timed in the sending guest) between two Zonekeeper zones and between the
 * same two QEMU command lines run directly. All in the same run. A benchmark: it asserts nothing.
 *
 * <p>It makes a bridge and taps, so it must run in a network namespace of its own: {@code scripts/bench} runs it
 * under {@code unshare --net}; run alone, it refuses to start outside one.
 */
public final class NetworkDiskBenchmark {
    private static final Duration LIMIT = Duration.ofSeconds(120);
    private static final Pattern TCP = Pattern.compile("zk-tcp (\\d+\\.\\d+) (\\d+\\.\\d+)");
    private static final int MIB = 64;

    private NetworkDiskBenchmark() {
    }

    /** Networks and disks as the zonekeeper-network bundles provide them, without a framework. */
    private record Provider(ResourceKind kind, Networks networks, Disks disks) implements ZoneResourceProvider {
        @Override
        public PreparedResources prepare(UUID id, ZoneSpec spec) throws ZoneException {
            return networks != null ? networks.prepare(id, spec) : disks.prepare(id, spec);
        }

        @Override
        public void release(UUID id, String zoneName) {
            if (networks != null) {
                networks.release(id);
            } else {
                disks.release(id);
            }
        }

        @Override
        public List<String> orphans(Set<UUID> activeZones) {
            return networks != null ? networks.orphans(activeZones) : disks.orphans(activeZones);
        }
    }

    public static void main(String[] args) throws Exception {
        if (!"own".equals(System.getenv("ZK_NETNS"))) {
            System.out.println("network benchmark: skipped, it must run in a network namespace of its own "
                    + "(scripts/bench runs it under unshare --net)");
            return;
        }
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path state = Files.createTempDirectory(Path.of("/tmp"), "zk-nb");
        IpHost host = new IpHost("ip", "nft");
        Networks networks = new Networks(state.resolve("networks"), host);
        Disks disks = new Disks(state, List.of(), "mke2fs", "qemu-img");
        ZoneRegistry registry = new ZoneRegistry();
        registry.open(state, null, Duration.ofSeconds(15), Duration.ofSeconds(10));
        registry.addResourceProvider(new Provider(ResourceKind.NETWORK, networks, null));
        registry.addResourceProvider(new Provider(ResourceKind.DISK, null, disks));
        KvmDriver driver = new KvmDriver(new KvmDriver.Settings(state, "qemu-system-x86_64", "auto", null));
        registry.addDriver(driver, "kvm-driver", "benchmark");
        List<Process> plain = new ArrayList<>();
        try {
            networks.open();
            networks.create("bench", "10.99.0.0/24", false);
            String img = disks.create("data", "16M", null, DiskSpec.FORMAT_RAW).path().toString();
            System.out.println("networks and disks: warming up (zone image and accelerator self-test)");
            start(registry, ZoneSpec.builder("warm").hypervisor("kvm").build(), new ArrayList<>());
            registry.destroy("warm");

            List<Long> zkBare = new ArrayList<>();
            List<Long> zkDev = new ArrayList<>();
            List<Long> qBare = new ArrayList<>();
            List<Long> qDev = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                List<String> bare = new ArrayList<>();
                zkBare.add(start(registry, ZoneSpec.builder("b" + i).hypervisor("kvm").build(), bare));
                registry.destroy("b" + i);
                qBare.add(plainStart(bare, "b" + i, plain));
                List<String> dev = new ArrayList<>();
                ZoneSpec withDevices = ZoneSpec.builder("d" + i).hypervisor("kvm")
                        .network(new NetworkAttachment("bench", null)).disk(new DiskSpec(img, "raw", false)).build();
                zkDev.add(start(registry, withDevices, dev));
                String tap = tapOf(registry.get("d" + i).orElseThrow());
                registry.destroy("d" + i);
                host.createTap(tap, "zkb-bench");
                try {
                    qDev.add(plainStart(dev, "d" + i, plain));
                } finally {
                    host.deleteTap(tap);
                }
                System.out.printf("start: run %d: zonekeeper %d ms bare, %d ms with a network and a disk; plain qemu"
                        + " %d ms bare, %d ms with the same devices%n", i + 1, zkBare.get(i), zkDev.get(i),
                        qBare.get(i), qDev.get(i));
            }
            System.out.printf("start: median added by a network and a disk: zonekeeper %+d ms (%d -> %d), plain qemu"
                    + " %+d ms (%d -> %d), %d runs%n", median(zkDev) - median(zkBare), median(zkBare), median(zkDev),
                    median(qDev) - median(qBare), median(qBare), median(qDev), runs);
            System.out.printf("start: ratio zonekeeper/plain qemu: %s bare, %s with a network and a disk%n",
                    ratio(median(zkBare), median(qBare)), ratio(median(zkDev), median(qDev)));
            BenchFigures figures = new BenchFigures("networks");
            figures.figure("start to the ready line, bare", median(zkBare), median(qBare), "ms", null);
            figures.figure("start to the ready line, with a network and a disk", median(zkDev), median(qDev), "ms",
                    null);

            // Throughput: receiver r (fixed address) and sender s on the same network.
            String send = "zk.run=\"a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero bs=64k count=" + (MIB * 16)
                    + " 2>/dev/null | nc 10.99.0.21 5001; b=$(cut -d' ' -f1 /proc/uptime); echo zk-tcp $a $b\"";
            registry.create(ZoneSpec.builder("r").hypervisor("kvm").network(new NetworkAttachment("bench",
                    "10.99.0.21")).cmdline("zk.run=\"nc -l -p 5001 > /dev/null\"").build());
            registry.create(ZoneSpec.builder("s").hypervisor("kvm").network(new NetworkAttachment("bench",
                    "10.99.0.22")).cmdline(send).build());
            List<String> rArgs = new ArrayList<>();
            List<String> sArgs = new ArrayList<>();
            start(registry, null, rArgs, "r");
            String rTap = tapOf(registry.get("r").orElseThrow());
            start(registry, null, sArgs, "s");
            String sTap = tapOf(registry.get("s").orElseThrow());
            registry.await("s", Set.of(ZoneState.STOPPED, ZoneState.CRASHED), LIMIT);
            double zkMBs = throughput(Files.readString(registry.consoleLog("s"), StandardCharsets.ISO_8859_1));
            registry.await("r", Set.of(ZoneState.STOPPED, ZoneState.CRASHED), LIMIT);
            host.createTap(rTap, "zkb-bench");
            host.createTap(sTap, "zkb-bench");
            double plainMBs;
            try {
                Path sLog = consoleLogOf(sArgs);
                long mark = Files.size(sLog);
                Process r = launch(rArgs, plain);
                awaitLine(consoleLogOf(rArgs), "zonekeeper: zone r ready", Files.size(consoleLogOf(rArgs)));
                Process s = launch(sArgs, plain);
                awaitLine(sLog, "zk-tcp", mark);
                s.waitFor();
                r.waitFor();
                plainMBs = throughput(Files.readString(sLog, StandardCharsets.ISO_8859_1).substring((int) mark));
            } finally {
                host.deleteTap(rTap);
                host.deleteTap(sTap);
            }
            new BenchFigures("networks").figure("zone to zone TCP throughput", Math.round(zkMBs * 10) / 10.0,
                    Math.round(plainMBs * 10) / 10.0, "MB/s", null);
            System.out.printf("tcp: zone to zone, %d MiB: zonekeeper %.1f MB/s, plain qemu with the same devices"
                    + " %.1f MB/s, ratio %s (guest clock; accelerator %s)%n", MIB, zkMBs, plainMBs,
                    ratio(zkMBs, plainMBs), driver.capabilities().details().get("accel"));
        } finally {
            for (Process p : plain) {
                p.destroyForcibly().waitFor();
            }
            for (ZoneInfo z : registry.list()) {
                registry.destroy(z.name());
            }
            registry.close();
            driver.deactivate();
        }
    }

    private static long start(ZoneRegistry registry, ZoneSpec spec, List<String> argv) throws Exception {
        registry.create(spec);
        return start(registry, spec, argv, spec.name());
    }

    /** Start through the registry to the guest's ready line; the QEMU arguments go into {@code argv}. */
    private static long start(ZoneRegistry registry, ZoneSpec ignored, List<String> argv, String name)
            throws Exception {
        long t0 = System.nanoTime();
        ZoneInfo z = registry.start(name);
        awaitLine(registry.consoleLog(name), "zonekeeper: zone " + name + " ready", 0);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        argv.addAll(Arrays.asList(new String(Files.readAllBytes(Path.of("/proc/" + z.runtime().get("pid")
                + "/cmdline")), StandardCharsets.UTF_8).split("\0")));
        return ms;
    }

    private static String tapOf(ZoneInfo z) {
        Matcher m = Pattern.compile("tap (zkt[0-9a-f]+)").matcher(z.runtime().get("nic.0"));
        m.find();
        return m.group(1);
    }

    /** The console log file a zone's QEMU command line names (its console chardev's logfile=). */
    static Path consoleLogOf(List<String> argv) {
        for (String a : argv) {
            int at = a.indexOf("logfile=");
            if (at >= 0) {
                return Path.of(a.substring(at + "logfile=".length()).split(",")[0]);
            }
        }
        throw new IllegalStateException("no console log in " + argv);
    }

    private static Process launch(List<String> argv, List<Process> plain) throws Exception {
        Path dir = consoleLogOf(argv).getParent();
        Files.createDirectories(dir);
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(new File(dir.resolve("plain-qemu.out").toString())).start();
        plain.add(p);
        return p;
    }

    /** The same QEMU command, started directly, to the same ready line. */
    private static long plainStart(List<String> argv, String name, List<Process> plain) throws Exception {
        Path log = consoleLogOf(argv);
        Files.createDirectories(log.getParent());
        long t0 = System.nanoTime();
        Process p = launch(argv, plain);
        try {
            awaitLine(log, "zonekeeper: zone " + name + " ready", 0);
            return (System.nanoTime() - t0) / 1_000_000;
        } finally {
            p.destroyForcibly().waitFor();
            try (var walk = Files.walk(log.getParent())) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static double throughput(String console) {
        Matcher m = TCP.matcher(console);
        if (!m.find()) {
            throw new IllegalStateException("the sender printed no timing:\n" + console);
        }
        double seconds = Double.parseDouble(m.group(2)) - Double.parseDouble(m.group(1));
        return MIB * 1048576.0 / 1e6 / seconds;
    }

    private static void awaitLine(Path log, String line, long from) throws Exception {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                String s = Files.readString(log, StandardCharsets.ISO_8859_1);
                if (s.length() > from && s.substring((int) from).contains(line)) {
                    return;
                }
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("'" + line + "' did not appear in " + log + " within " + LIMIT);
    }

    private static long median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    /** a / b to two places, or "n/a" where the baseline is not positive. */
    static String ratio(double a, double b) {
        return b > 0 ? String.format("%.2f", a / b) : "n/a";
    }
}

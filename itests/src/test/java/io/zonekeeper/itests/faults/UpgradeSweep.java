package io.zonekeeper.itests.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.zonekeeper.itests.DistributionSigner;

import jakarta.json.JsonObject;

/**
 * Driver upgrades in a row under running zones: the kvm driver is replaced again and again ({@code driver:upgrade}
 * to kvm-driver-next, then back to the distribution's own kvm-driver jar, and so on), while each zone's guest
 * prints a heartbeat ({@code zk.heartbeat=1}: a tick with the guest's uptime every 100 ms). Counts the guests
 * restarted (a zone whose QEMU pid changed or that is no longer RUNNING) and prints the largest gap between two
 * ticks of each guest, before the upgrades (a baseline as long as 5 s) and across them.
 *
 * <p>Run: {@code scripts/bench} (100 upgrades, 5 zones); {@code UpgradeSweepIT} runs 5 upgrades under 2 zones.
 */
public final class UpgradeSweep {
    private static final Pattern TICK = Pattern.compile("zonekeeper: tick (\\d+) (\\d+\\.\\d+)");
    private static final Duration ASK = Duration.ofSeconds(180);

    /** Upgrades done and failed, guests restarted, and the largest heartbeat gaps in seconds. */
    public record Result(int upgrades, int failed, int restarted, double baselineGap, double upgradeGap,
            List<String> findings) {
    }

    public static void main(String[] args) throws Exception {
        int upgrades = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int zones = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Result r = run(upgrades, zones);
        System.exit(r.failed() == 0 && r.restarted() == 0 ? 0 : 1);
    }

    public static Result run(int upgrades, int zoneCount) throws Exception {
        Path dist = ApplianceProcess.builtDistribution();
        List<Path> jars = signedKvmDriverJars(dist, Files.createTempDirectory(Path.of("/tmp"), "zk-signed"));
        Path next = jars.get(0);
        Path own = jars.get(1);
        Path state = Files.createTempDirectory(Path.of("/tmp"), "zk-upgrades");
        ApplianceProcess appliance = new ApplianceProcess(dist, state);
        ControlClient control = new ControlClient(state);
        List<String> names = new ArrayList<>();
        List<String> findings = new ArrayList<>();
        int failed = 0;
        try {
            appliance.start(null);
            for (int i = 1; i <= zoneCount; i++) {
                names.add("hb" + i);
                ask(control, "zone:create --hypervisor kvm --cmdline zk.heartbeat=1 --start hb" + i);
            }
            for (String n : names) {
                ask(control, "zone:wait --timeout 300 --console 'zonekeeper: tick 20 ' " + n);
            }
            List<Long> pids = new ArrayList<>();
            for (String n : names) {
                pids.add(pidOf(control, n));
            }
            double[] from = new double[names.size()];
            for (int i = 0; i < names.size(); i++) {
                from[i] = lastTick(state, names.get(i));
            }
            Thread.sleep(5000);
            double baseline = 0;
            double[] upgradeFrom = new double[names.size()];
            for (int i = 0; i < names.size(); i++) {
                upgradeFrom[i] = lastTick(state, names.get(i));
                baseline = Math.max(baseline, maxGap(state, names.get(i), from[i], upgradeFrom[i]));
            }
            long t0 = System.nanoTime();
            long slowest = 0;
            for (int u = 1; u <= upgrades; u++) {
                Path jar = u % 2 == 1 ? next : own;
                long s0 = System.nanoTime();
                ControlClient.Answer a = control.run("driver:upgrade kvm " + jar, ASK);
                slowest = Math.max(slowest, (System.nanoTime() - s0) / 1_000_000);
                if (!a.ok() || !a.out().contains("adopted " + zoneCount + " zone(s)")) {
                    failed++;
                    findings.add("upgrade " + u + " to " + jar.getFileName() + ": " + a.err() + a.out());
                }
            }
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            int restarted = 0;
            double gap = 0;
            for (int i = 0; i < names.size(); i++) {
                String n = names.get(i);
                JsonObject z = zone(control, n);
                long pid = pidOf(control, n);
                if (!"RUNNING".equals(z.getString("state")) || pid != pids.get(i)) {
                    restarted++;
                    findings.add("zone " + n + " is " + z.getString("state") + " with QEMU " + pid + ", was "
                            + pids.get(i));
                }
                double g = maxGap(state, n, upgradeFrom[i], lastTick(state, n));
                gap = Math.max(gap, g);
                System.out.printf("driver upgrades: heartbeat of %s: largest gap %.2f s across the upgrades%n", n, g);
            }
            System.out.printf("driver upgrades: %d upgrades in a row under %d running zones in %d s (slowest %d ms):"
                    + " %d failed, %d guest restarts; largest heartbeat gap %.2f s across them, %.2f s in 5 s"
                    + " before%n", upgrades, zoneCount, seconds, slowest, failed, restarted, gap, baseline);
            findings.forEach(f -> System.out.println("driver upgrades: " + f));
            return new Result(upgrades, failed, restarted, baseline, gap, findings);
        } finally {
            for (String n : names) {
                try {
                    control.run("zone:destroy " + n, Duration.ofSeconds(60));
                } catch (IOException e) {
                    System.out.println("driver upgrades: destroying " + n + ": " + e.getMessage());
                }
            }
            stopAndRemove(appliance, control, state);
        }
    }

    /** Stops the appliance, kills every guest of its state folder that is left, and removes the folder. */
    static void stopAndRemove(ApplianceProcess appliance, ControlClient control, Path state) throws Exception {
        appliance.stop();
        for (long pid : new ApplianceInvariants(control, state, false).ourGuests().keySet()) {
            ProcessHandle.of(pid).ifPresent(h -> {
                h.destroyForcibly();
                h.onExit().join();
            });
        }
        try (Stream<Path> walk = Files.walk(state)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /**
     * kvm-driver-next and the distribution's own kvm-driver jar, in that order, both signed into {@code into} as an
     * operator would sign them: the appliance runs under its default code policy (signed only).
     */
    /** kvm-driver-next as built, unsigned: a jar the distribution's default code policy refuses. */
    static Path unsignedKvmDriverNext(Path dist) throws IOException {
        try (Stream<Path> s = Files.list(dist.resolve("../../../itests/kvm-driver-next/target").normalize())) {
            return s.filter(p -> p.getFileName().toString().matches("kvm-driver-next-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new IOException("no kvm-driver-next jar; build itests/kvm-driver-next"));
        }
    }

    static List<Path> signedKvmDriverJars(Path dist, Path into) throws IOException {
        Path next;
        Path own;
        try (Stream<Path> s = Files.list(dist.resolve("../../../itests/kvm-driver-next/target").normalize())) {
            next = s.filter(p -> p.getFileName().toString().matches("kvm-driver-next-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new IOException("no kvm-driver-next jar; build itests/kvm-driver-next"));
        }
        try (Stream<Path> s = Files.list(dist.resolve("bundles"))) {
            own = s.filter(p -> p.getFileName().toString().matches("kvm-driver-\\d.*\\.jar")).findFirst()
                    .orElseThrow(() -> new IOException("no kvm-driver jar in " + dist.resolve("bundles")));
        }
        return List.of(DistributionSigner.sign(next, into.resolve(next.getFileName())),
                DistributionSigner.sign(own, into.resolve(own.getFileName())));
    }

    private static void ask(ControlClient control, String command) throws IOException {
        ControlClient.Answer a = control.run(command, ASK);
        if (!a.ok()) {
            throw new IOException(command + " failed: " + a.err() + a.out());
        }
    }

    private static JsonObject zone(ControlClient control, String name) throws IOException {
        ControlClient.Answer a = control.run("zone:info --json " + name, ASK);
        if (!a.ok()) {
            throw new IOException("zone:info " + name + " failed: " + a.err());
        }
        return jakarta.json.Json.createReader(new java.io.StringReader(a.out().substring(a.out().indexOf('{'))))
                .readObject();
    }

    private static long pidOf(ControlClient control, String name) throws IOException {
        JsonObject rt = zone(control, name).getJsonObject("runtime");
        return rt == null || !rt.containsKey("pid") ? -1 : Long.parseLong(rt.getString("pid"));
    }

    private static List<Double> ticks(Path state, String zone) throws IOException {
        List<Double> out = new ArrayList<>();
        Path dir = state.resolve("zones").resolve(zone);
        for (Path log : List.of(dir.resolve("console.log.1"), dir.resolve("console.log"))) {
            if (Files.exists(log)) {
                Matcher m = TICK.matcher(Files.readString(log, StandardCharsets.ISO_8859_1));
                while (m.find()) {
                    out.add(Double.parseDouble(m.group(2)));
                }
            }
        }
        return out;
    }

    private static double lastTick(Path state, String zone) throws IOException {
        List<Double> t = ticks(state, zone);
        return t.isEmpty() ? 0 : t.get(t.size() - 1);
    }

    /** The largest gap in guest uptime between two ticks that both fall in [from, to]. */
    private static double maxGap(Path state, String zone, double from, double to) throws IOException {
        double gap = 0;
        double prev = -1;
        for (double t : ticks(state, zone)) {
            if (t < from || t > to) {
                continue;
            }
            if (prev >= 0) {
                gap = Math.max(gap, t - prev);
            }
            prev = t;
        }
        return gap;
    }
}

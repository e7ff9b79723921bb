package io.zonekeeper.itests.faults;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import io.zonekeeper.itests.DistributionSigner;

import jakarta.json.JsonObject;

/**
 * The fault-injection harness: kills the appliance with SIGKILL at random points across zone create, start, stop,
 * pause, destroy, driver upgrade and rollback, network and disk operations; starts it again on the same state
 * directory and checks {@link ApplianceInvariants}. A point is "lost" when an invariant does not hold after the
 * restart that follows it. Two small zones at most (one on a network and a disk, both naming the same disk, so
 * that a lock given twice would show); every process it starts is killed by pid at the end.
 *
 * <p>Most kills come a random time after a command was sent; every fourth point instead starts the appliance
 * with {@code zonekeeper.crashPoint} set to a line in the kvm driver's start (before QEMU's launch, or right after
 * it, before the full runtime record): the window where a lost record used to leave a guest nobody managed.
 *
 * <p>Run: {@code scripts/fault-sweep [points] [seed]} (called by {@code scripts/bench} with 100 points);
 * {@code FaultInjectionNetnsIT} runs 10 points in {@code scripts/test}.
 */
public final class FaultSweep {
    private static final String[] CRASH_POINTS = { "kvm.before-launch:1", "kvm.launched:1" };
    private static final List<String> ZONES = List.of("f1", "f2");
    /** How long a restarted appliance has to adopt its zones and take back what crashed ones held. */
    private static final Duration SETTLE = Duration.ofSeconds(60);

    /** How a sweep went: points run, points after which an invariant failed, with what failed. */
    public record Result(int points, int lost, int crashPoints, int timedKills, List<String> findings) {
    }

    private final Path state;
    private final Path nextDriver;
    private final boolean networks;
    private final Random random;
    private final ApplianceProcess appliance;
    private final ControlClient control;
    private final ApplianceInvariants invariants;
    private boolean upgraded;

    public FaultSweep(Path dist, Path state, Path nextDriver, boolean networks, long seed) {
        this.state = state;
        this.nextDriver = nextDriver;
        this.networks = networks;
        this.random = new Random(seed);
        this.appliance = new ApplianceProcess(dist, state);
        this.control = new ControlClient(state);
        this.invariants = new ApplianceInvariants(control, state, networks);
    }

    public static void main(String[] args) throws Exception {
        int points = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        Result r = runInTempState(points, seed, "own".equals(System.getenv("ZK_NETNS")));
        System.exit(r.lost() == 0 ? 0 : 1);
    }

    /** A sweep on a fresh state directory, removed afterwards unless a point was lost. */
    public static Result runInTempState(int points, long seed, boolean networks) throws Exception {
        Path dist = ApplianceProcess.builtDistribution();
        Path next = nextDriverJar(dist);
        // Under /tmp: QEMU's socket paths must stay under 108 bytes.
        Path state = Files.createTempDirectory(Path.of("/tmp"), "zk-faults");
        FaultSweep sweep = new FaultSweep(dist, state, next, networks, seed);
        long t0 = System.nanoTime();
        Result r;
        try {
            r = sweep.run(points);
        } finally {
            sweep.cleanUp();
        }
        System.out.printf("fault injection: %d points, %d lost (%d at crash points, %d timed kills; seed %d;"
                + " networks %s; %d s)%n", r.points(), r.lost(), r.crashPoints(), r.timedKills(), seed,
                networks ? "yes" : "no (no network namespace)", (System.nanoTime() - t0) / 1_000_000_000L);
        r.findings().forEach(f -> System.out.println("fault injection: lost: " + f));
        if (r.lost() == 0) {
            deleteTree(state);
        } else {
            System.out.println("fault injection: the state directory and the appliance logs are kept in " + state);
        }
        return r;
    }

    private static Path nextDriverJar(Path dist) throws IOException {
        Path dir = dist.resolve("../../../itests/kvm-driver-next/target").normalize();
        try (Stream<Path> s = Files.list(dir)) {
            Path jar = s.filter(p -> p.getFileName().toString().matches("kvm-driver-next-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new IOException("no kvm-driver-next jar in " + dir));
            // Signed as an operator would: the appliance runs under its default code policy (signed code only).
            Path signed = Files.createTempDirectory(Path.of("/tmp"), "zk-signed").resolve(jar.getFileName());
            return DistributionSigner.sign(jar, signed);
        }
    }

    Result run(int points) throws Exception {
        List<String> findings = new ArrayList<>();
        int lost = 0;
        int crashes = 0;
        int timed = 0;
        appliance.start(null);
        setUp();
        for (int i = 1; i <= points; i++) {
            boolean atCrashPoint = i % 4 == 0;
            String crashPoint = atCrashPoint ? CRASH_POINTS[random.nextInt(CRASH_POINTS.length)] : null;
            if (atCrashPoint) {
                // The appliance of this point halts at the crash point: restart it with the property set.
                appliance.kill();
                appliance.start(crashPoint);
                invariants.afterSettling(SETTLE);
            }
            String op = atCrashPoint ? startCommand() : chooseCommand();
            Thread sender = send(op);
            String how;
            if (atCrashPoint && op != null) {
                boolean halted = appliance.awaitHalt(Duration.ofSeconds(90));
                how = halted ? "halted at " + crashPoint : "crash point " + crashPoint + " not reached, killed";
                crashes++;
            } else {
                long delay = random.nextInt(3000);
                Thread.sleep(delay);
                how = "killed after " + delay + " ms";
                timed++;
            }
            appliance.kill();
            sender.join(10_000);
            appliance.start(null);
            List<String> bad = invariants.afterSettling(SETTLE);
            String line = "point " + i + "/" + points + ": " + (op == null ? "(nothing to do)" : op) + ", " + how;
            if (bad.isEmpty()) {
                System.out.println("fault injection: " + line + ": ok");
            } else {
                lost++;
                findings.add(line + ": " + String.join("; ", bad));
                System.out.println("fault injection: " + line + ": LOST: " + String.join("; ", bad));
            }
        }
        return new Result(points, lost, crashes, timed, findings);
    }

    /** A network both zones are on (so a tap or an address given twice would show) and the disk f1 writes. */
    private void setUp() throws IOException, InterruptedException {
        // The control socket opens before every feature's commands are registered: wait for the ones used here.
        awaitCommand("disk:list");
        if (networks) {
            awaitCommand("net:list");
            ask("net:create --subnet 10.77.0.0/24 n1");
        }
        ask("disk:create --size 8M d1");
    }

    private void awaitCommand(String command) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            ControlClient.Answer a = control.run(command, Duration.ofSeconds(30));
            if (a.ok()) {
                return;
            }
            if (System.nanoTime() > deadline || !(a.err() + a.out()).contains("Command not found")) {
                throw new IOException(command + " failed: " + a.err() + a.out());
            }
            Thread.sleep(250);
        }
    }

    private void ask(String command) throws IOException {
        ControlClient.Answer a = control.run(command, Duration.ofSeconds(120));
        if (!a.ok()) {
            throw new IOException(command + " failed: " + a.err() + a.out());
        }
    }

    private Map<String, JsonObject> zonesByName() throws IOException {
        Map<String, JsonObject> m = new java.util.TreeMap<>();
        for (JsonObject z : invariants.zones().getValuesAs(JsonObject.class)) {
            m.put(z.getString("name"), z);
        }
        return m;
    }

    private String createCommand(String zone, boolean start) {
        StringBuilder c = new StringBuilder("zone:create --hypervisor kvm --channels data");
        if (networks) {
            c.append(" --networks n1");
        }
        if (zone.equals("f1")) {
            c.append(" --disks ").append(state.resolve("disks/d1.img"));
        }
        return c.append(start ? " --start " : " ").append(zone).toString();
    }

    /** A command that starts a QEMU: the start of a zone that can start, or the create-and-start of a new one. */
    private String startCommand() throws IOException {
        Map<String, JsonObject> zones = zonesByName();
        for (String n : ZONES) {
            JsonObject z = zones.get(n);
            if (z == null) {
                return createCommand(n, true);
            }
            if (List.of("DEFINED", "STOPPED", "CRASHED").contains(z.getString("state"))) {
                return "zone:start " + n;
            }
        }
        return "zone:destroy " + ZONES.get(random.nextInt(ZONES.size()));
    }

    /** Any command the zones' states allow, drawn at random. */
    private String chooseCommand() throws IOException {
        Map<String, JsonObject> zones = zonesByName();
        List<String> options = new ArrayList<>();
        for (String n : ZONES) {
            JsonObject z = zones.get(n);
            if (z == null) {
                options.add(createCommand(n, random.nextBoolean()));
                continue;
            }
            switch (z.getString("state")) {
                case "DEFINED", "STOPPED", "CRASHED" -> {
                    options.add("zone:start " + n);
                    options.add("zone:destroy " + n);
                }
                case "RUNNING" -> {
                    options.add("zone:stop --grace 3 " + n);
                    options.add("zone:destroy " + n);
                    options.add("zone:pause " + n);
                }
                case "PAUSED" -> {
                    options.add("zone:resume " + n);
                    options.add("zone:stop --grace 3 " + n);
                }
                default -> options.add("zone:list");
            }
        }
        options.add(upgraded ? "driver:rollback kvm" : "driver:upgrade kvm " + nextDriver);
        if (networks) {
            options.add(random.nextBoolean() ? "net:create --subnet 10.78.0.0/24 n2" : "net:destroy n2");
        }
        options.add(random.nextBoolean() ? "disk:create --size 8M d2" : "disk:destroy d2");
        String op = options.get(random.nextInt(options.size()));
        if (op.startsWith("driver:")) {
            upgraded = !upgraded;
        }
        return op;
    }

    /** Sends the command on a thread of its own; the appliance's death ends it. */
    private Thread send(String command) {
        Thread t = new Thread(() -> {
            if (command == null) {
                return;
            }
            try {
                control.run(command, Duration.ofSeconds(120));
            } catch (IOException e) {
                // The appliance was killed under it: that is the point.
            }
        }, "fault-sweep-command");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Ends the appliance and, by pid, every QEMU of this state directory that is still there. */
    void cleanUp() throws InterruptedException {
        try {
            if (!appliance.isRunning()) {
                appliance.start(null);
            }
            for (String n : ZONES) {
                control.run("zone:destroy " + n, Duration.ofSeconds(60));
            }
            if (networks) {
                control.run("net:destroy n2", Duration.ofSeconds(30));
                control.run("net:destroy n1", Duration.ofSeconds(30));
            }
        } catch (IOException e) {
            System.out.println("fault injection: clean-up through the appliance failed: " + e.getMessage());
        }
        appliance.stop();
        for (long pid : invariants.ourGuests().keySet()) {
            ProcessHandle.of(pid).ifPresent(h -> {
                h.destroyForcibly();
                h.onExit().join();
            });
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}

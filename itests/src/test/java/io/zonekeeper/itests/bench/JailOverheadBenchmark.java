package io.zonekeeper.itests.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.kvm.KvmDriver;
import io.zonekeeper.kvm.jail.JailSettings;
import io.zonekeeper.kvm.qemu.Machine;

/**
 * Prints what the jail (own uid, chroot, cgroup, the launch shell) adds to a zone's start: the same zone started
 * through two appliances in one run, one with the jail on and one with {@code jail=false}, alternating, so that both
 * see the same host load. Two figures: create+start until the driver returns (QEMU launched, QMP connected), where
 * the jail's own work lies, and to the guest's ready line, what a user waits for. A benchmark: it asserts nothing.
 * Needs root (the jail is off otherwise, and both sides would be the same).
 */
public final class JailOverheadBenchmark {
    private record Side(String label, ZoneRegistry registry, KvmDriver driver, List<Long> started, List<Long> ready) {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        List<Side> sides = new ArrayList<>();
        for (boolean on : List.of(true, false)) {
            Path state = Files.createTempDirectory("zk-bench-jail");
            ZoneRegistry registry = new ZoneRegistry();
            registry.open(state, null, Duration.ofSeconds(15), Duration.ofSeconds(10));
            KvmDriver driver = new KvmDriver(new KvmDriver.Settings(state, "qemu-system-x86_64", "auto", null,
                    Machine.MICROVM_PVH, List.of(), KvmDriver.Settings.DEFAULT_CONSOLE_LOG_CAP, new JailSettings(on,
                            JailSettings.DEFAULT.idBase(), JailSettings.DEFAULT.idCount(),
                            JailSettings.DEFAULT.memoryOverheadMiB(), JailSettings.DEFAULT.cgroupParent())));
            registry.addDriver(driver, "kvm-driver", "benchmark");
            sides.add(new Side(on ? "on" : "off", registry, driver, new ArrayList<>(), new ArrayList<>()));
        }
        try {
            for (Side s : sides) {
                start(s, "warm");
            }
            Side on = sides.get(0);
            Side off = sides.get(1);
            if (on.driver().capabilities().details().get("jail").startsWith("off")) {
                System.out.println("jail: start overhead not measured (the jail is off: the benchmark needs root)");
                return;
            }
            for (int i = 0; i < runs; i++) {
                // Alternate which side goes first, so neither always follows the other's teardown.
                for (Side s : i % 2 == 0 ? sides : List.of(off, on)) {
                    long[] t = start(s, "j" + i);
                    s.started().add(t[0]);
                    s.ready().add(t[1]);
                }
            }
            long onStart = StartOverheadBenchmark.median(on.started());
            long offStart = StartOverheadBenchmark.median(off.started());
            long onReady = StartOverheadBenchmark.median(on.ready());
            long offReady = StartOverheadBenchmark.median(off.ready());
            System.out.printf("jail: start overhead %+.1f %% to guest ready (median %d ms jail on, %d ms off), %+d ms"
                    + " to the driver's return (median %d ms on, %d ms off); %d runs each, alternating; accel %s;"
                    + " limits %s%n", 100.0 * (onReady - offReady) / offReady, onReady, offReady,
                    onStart - offStart, onStart, offStart, runs, on.driver().capabilities().details().get("accel"),
                    on.driver().capabilities().details().get("limits"));
        } finally {
            for (Side s : sides) {
                for (ZoneInfo z : s.registry().list()) {
                    s.registry().destroy(z.name());
                }
                s.registry().close();
                s.driver().deactivate();
            }
        }
    }

    /** Create + start of one zone: ms until the driver returned, ms until the guest's ready line; then destroys it. */
    private static long[] start(Side s, String name) throws Exception {
        long t0 = System.nanoTime();
        s.registry().create(ZoneSpec.builder(name).hypervisor("kvm").build());
        s.registry().start(name);
        long started = (System.nanoTime() - t0) / 1_000_000;
        StartOverheadBenchmark.awaitLine(s.registry().consoleLog(name), "zonekeeper: zone " + name + " ready");
        long ready = (System.nanoTime() - t0) / 1_000_000;
        s.registry().destroy(name);
        return new long[] {started, ready};
    }
}

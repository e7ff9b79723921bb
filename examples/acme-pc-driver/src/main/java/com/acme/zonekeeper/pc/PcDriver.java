package com.acme.zonekeeper.pc;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/**
 * Zones as QEMU processes on the classic PC machine (i440FX, SeaBIOS, ACPI), booting a bzImage directly. QEMU runs
 * daemonized in a session of its own, so guests outlive this bundle and the JVM; the zone id is the VM's UUID, which
 * is the proof {@link #adopt} looks for on the process's command line.
 */
@Component(service = HypervisorDriver.class, property = HypervisorDriver.TYPE_PROPERTY + "=" + PcDriver.TYPE)
public class PcDriver implements HypervisorDriver {
    static final String TYPE = "acme-pc";
    private static final Duration LAUNCH_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);
    private static final Duration PROBE_TIME = Duration.ofSeconds(2);

    private final String qemu;
    private final Path boot;
    private final Path busybox;
    private final Map<UUID, Watch> watches = new ConcurrentHashMap<>();
    private ScheduledExecutorService watcher;
    private volatile String accel;

    /** A guest this instance holds, and whether its end was asked for (otherwise it crashed). */
    private static final class Watch {
        final ZoneContext zone;
        final ProcessHandle process;
        volatile boolean asked;

        Watch(ZoneContext zone, ProcessHandle process) {
            this.zone = zone;
            this.process = process;
        }
    }

    public PcDriver() {
        this("qemu-system-x86_64", Path.of("/boot"), Path.of("/bin/busybox"));
    }

    PcDriver(String qemu, Path boot, Path busybox) {
        this.qemu = qemu;
        this.boot = boot;
        this.busybox = busybox;
    }

    @Activate
    void activate() {
        watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "acme-pc watcher");
            t.setDaemon(true);
            return t;
        });
        watcher.scheduleWithFixedDelay(this::checkGuests, 500, 500, TimeUnit.MILLISECONDS);
    }

    /** Stops watching; the guests keep running for the next revision to adopt. */
    @Deactivate
    void deactivate() {
        watcher.shutdownNow();
        watches.clear();
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Capabilities capabilities() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("machine", "pc (i440FX, SeaBIOS, ACPI), bzImage booted directly");
        d.put("accel", accel());
        d.put("qemu", qemu);
        d.put("image", "newest /boot/vmlinuz-*, initramfs of " + busybox + " per zone");
        return new Capabilities(EnumSet.of(Feature.ADOPTION), Runtime.getRuntime().availableProcessors(),
                memTotalMiB(), d);
    }

    // ---------------------------------------------------------------------------------------------------- start

    @Override
    public RuntimeRecord start(ZoneContext zone) throws DriverException {
        ZoneSpec spec = zone.spec();
        Optional<ProcessHandle> running = guest(zone);
        if (running.isPresent()) {
            throw new DriverException("zone " + zone.name() + " already runs as QEMU pid " + running.get().pid());
        }
        ZoneFiles f = new ZoneFiles(zone.directory());
        Path kernel = kernel(spec);
        boolean ownImage = spec.initramfs() == null;
        if (!ownImage && !Files.isRegularFile(Path.of(spec.initramfs()))) {
            throw new DriverException("zone " + zone.name() + ": initramfs " + spec.initramfs()
                    + " does not exist or is not a file");
        }
        boolean hadConsoleLog = Files.exists(f.consoleLog());
        try {
            f.removeRuntimeFiles();
            Path initramfs = ownImage ? f.initramfs() : Path.of(spec.initramfs());
            if (ownImage) {
                ZoneImage.writeInitramfs(busybox, initramfs);
            }
            List<String> argv = argv(zone, spec, f, kernel, initramfs);
            Process launcher = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(f.qemuLog().toFile()).redirectInput(new File("/dev/null")).start();
            // -daemonize: this process exits once the guest's QEMU is set up, leaving it in a session of its own.
            if (!launcher.waitFor(LAUNCH_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                launcher.destroyForcibly();
                throw new DriverException("QEMU did not set up within " + LAUNCH_TIMEOUT.toSeconds() + " s");
            }
            if (launcher.exitValue() != 0) {
                throw new DriverException("QEMU exited with " + launcher.exitValue() + ": " + tail(f.qemuLog()));
            }
            long pid = Long.parseLong(Files.readString(f.pidFile()).trim());
            ProcessHandle guest = ProcessHandle.of(pid).filter(p -> proves(p, zone.id()))
                    .orElseThrow(() -> new DriverException("QEMU pid " + pid + " is gone right after its start: "
                            + tail(f.qemuLog())));
            Map<String, String> r = new LinkedHashMap<>();
            r.put(RuntimeRecord.PID, Long.toString(pid));
            r.put("uuid", zone.id().toString());
            r.put("qmp", f.qmpSocket().toString());
            r.put(RuntimeRecord.CONSOLE_LOG, f.consoleLog().toString());
            r.put("kernel", kernel.toString());
            r.put("initramfs", initramfs.toString());
            r.put("accel", accel());
            RuntimeRecord record = new RuntimeRecord(TYPE, r);
            zone.saveRuntime(record);
            watches.put(zone.id(), new Watch(zone, guest));
            return record;
        } catch (DriverException | IOException | RuntimeException e) {
            // Leave nothing of the attempt: no process, no socket, no file but a console log that was there.
            guestByPidFile(f, zone.id()).ifPresent(p -> end(p, Duration.ZERO));
            String why = e instanceof DriverException ? e.getMessage() : e.toString();
            f.removeAll(hadConsoleLog);
            throw new DriverException("zone " + zone.name() + " did not start: " + why, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.removeAll(hadConsoleLog);
            throw new DriverException("zone " + zone.name() + " did not start: interrupted", e);
        }
    }

    private Path kernel(ZoneSpec spec) throws DriverException {
        if (spec.kernel() != null) {
            Path k = Path.of(spec.kernel());
            if (!Files.isRegularFile(k)) {
                throw new DriverException("zone " + spec.name() + ": kernel " + k + " does not exist or is not a file");
            }
            return k;
        }
        try {
            return ZoneImage.newestKernel(boot);
        } catch (IOException e) {
            throw new DriverException("zone " + spec.name() + ": " + e.getMessage(), e);
        }
    }

    List<String> argv(ZoneContext zone, ZoneSpec spec, ZoneFiles f, Path kernel, Path initramfs) {
        List<String> a = new ArrayList<>(List.of(qemu, "-name", zone.name(), "-uuid", zone.id().toString(),
                "-M", "pc", "-m", spec.memoryMiB() + "M", "-smp", Integer.toString(spec.vcpus()),
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"));
        if ("kvm".equals(accel())) {
            a.addAll(List.of("-accel", "kvm", "-cpu", "host"));
        } else {
            a.addAll(List.of("-accel", "tcg"));
        }
        a.addAll(List.of("-chardev", "file,id=console,path=" + f.consoleLog() + ",append=on",
                "-serial", "chardev:console",
                "-qmp", "unix:" + f.qmpSocket() + ",server=on,wait=off",
                "-kernel", kernel.toString(), "-initrd", initramfs.toString(),
                "-append", ("console=ttyS0 panic=-1 quiet acmezone=" + zone.name() + " " + spec.cmdline()).strip(),
                "-pidfile", f.pidFile().toString(), "-daemonize"));
        return a;
    }

    // ----------------------------------------------------------------------------------------- adopt, observe

    @Override
    public Adoption adopt(ZoneContext zone) {
        Optional<ProcessHandle> p = guest(zone);
        if (p.isEmpty()) {
            return Adoption.refused("no live QEMU process with this zone's UUID " + zone.id() + " (runtime record "
                    + zone.runtime().map(RuntimeRecord::properties).orElse(Map.of()) + ")");
        }
        watches.put(zone.id(), new Watch(zone, p.get()));
        return Adoption.adopted(ZoneState.RUNNING);
    }

    @Override
    public ZoneState observe(ZoneContext zone) {
        return guest(zone).isPresent() ? ZoneState.RUNNING : ZoneState.STOPPED;
    }

    /** The zone's QEMU, found by the pid in its runtime record, only if that process carries the zone's UUID. */
    private Optional<ProcessHandle> guest(ZoneContext zone) {
        Watch w = watches.get(zone.id());
        if (w != null && w.process.isAlive()) {
            return Optional.of(w.process);
        }
        return zone.runtime().flatMap(r -> r.get(RuntimeRecord.PID)).flatMap(pid -> {
            try {
                return ProcessHandle.of(Long.parseLong(pid));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }).filter(p -> proves(p, zone.id()));
    }

    private static Optional<ProcessHandle> guestByPidFile(ZoneFiles f, UUID id) {
        try {
            long pid = Long.parseLong(Files.readString(f.pidFile()).trim());
            return ProcessHandle.of(pid).filter(p -> proves(p, id));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Alive, and its command line says {@code -uuid ID}: this zone's QEMU and not a process that reused the pid. */
    static boolean proves(ProcessHandle p, UUID id) {
        if (!p.isAlive()) {
            return false;
        }
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
            return new String(raw, StandardCharsets.UTF_8).contains("-uuid\0" + id + "\0");
        } catch (IOException e) {
            return false;
        }
    }

    // --------------------------------------------------------------------------------------------- stop, kill

    @Override
    public void stop(ZoneContext zone, Duration grace) throws DriverException {
        ZoneFiles f = new ZoneFiles(zone.directory());
        Optional<ProcessHandle> p = guest(zone);
        Watch w = watches.get(zone.id());
        if (w != null) {
            w.asked = true;
        }
        if (p.isPresent()) {
            try {
                Qmp.execute(f.qmpSocket(), "system_powerdown");
            } catch (IOException e) {
                // The power button could not be pressed; the end by force below still comes.
            }
            if (!end(p.get(), grace)) {
                throw new DriverException("QEMU pid " + p.get().pid() + " of zone " + zone.name()
                        + " survived SIGKILL; check the host");
            }
        }
        watches.remove(zone.id());
        f.removeRuntimeFiles();
    }

    @Override
    public void kill(ZoneContext zone) throws DriverException {
        Watch w = watches.get(zone.id());
        if (w != null) {
            w.asked = true;
        }
        Optional<ProcessHandle> p = guest(zone);
        if (p.isPresent() && !end(p.get(), Duration.ZERO)) {
            throw new DriverException("QEMU pid " + p.get().pid() + " of zone " + zone.name()
                    + " survived SIGKILL; check the host");
        }
        watches.remove(zone.id());
        new ZoneFiles(zone.directory()).removeAll(true);
    }

    /** Waits up to {@code grace} for the process to end, then kills it; true once it is gone. */
    private static boolean end(ProcessHandle p, Duration grace) {
        try {
            if (!grace.isZero()) {
                p.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
                return true;
            }
        } catch (java.util.concurrent.TimeoutException e) {
            // It did not power off by itself.
        } catch (java.util.concurrent.ExecutionException e) {
            return !p.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        p.destroyForcibly();
        try {
            p.onExit().get(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            return !p.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !p.isAlive();
    }

    /** A guest that ended without being asked crashed (a halted or panicking guest ends QEMU: -no-reboot). */
    private void checkGuests() {
        for (Watch w : watches.values()) {
            if (!w.process.isAlive() && watches.remove(w.zone.id(), w) && !w.asked) {
                ZoneFiles f = new ZoneFiles(w.zone.directory());
                w.zone.report(ZoneState.CRASHED, "QEMU pid " + w.process.pid() + " ended unasked; console: "
                        + tail(f.consoleLog()));
                f.removeRuntimeFiles();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------- helpers

    /**
     * "kvm" where QEMU keeps this driver's machine running under KVM with {@code -cpu host}, else "tcg"; decided once
     * per instance. An open /dev/kvm is not enough: a PVM host offers one, and QEMU aborts there as soon as it writes
     * the vCPU's MSRs ("failed to set MSR 0x10a"). So this runs the bare machine (SeaBIOS, no disk) and takes a QEMU
     * still alive after {@link #PROBE_TIME} as proof. Zonekeeper's own KVM driver goes further and boots the real
     * kernel under a deadline, since a stock kernel can still hang on such a host with other CPU models.
     */
    private String accel() {
        String a = accel;
        if (a == null) {
            a = accel = kvmRuns() ? "kvm" : "tcg";
        }
        return a;
    }

    private boolean kvmRuns() {
        Path kvm = Path.of("/dev/kvm");
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return false;
        }
        Process probe = null;
        try {
            probe = new ProcessBuilder(qemu, "-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", "16M", "-nodefaults",
                    "-no-user-config", "-display", "none", "-monitor", "none", "-serial", "none")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectInput(new File("/dev/null")).start();
            return !probe.waitFor(PROBE_TIME.toMillis(), TimeUnit.MILLISECONDS);
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (probe != null) {
                probe.destroyForcibly();
                try {
                    probe.waitFor(KILL_WAIT.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static long memTotalMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Fall through to a conservative answer.
        }
        return 1024;
    }

    private static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1).stream()
                    .filter(l -> !l.isBlank()).toList();
            return lines.isEmpty() ? "(nothing)" : String.join(" | ", lines.subList(Math.max(0, lines.size() - 3),
                    lines.size()));
        } catch (IOException e) {
            return "(no " + file.getFileName() + ")";
        }
    }
}

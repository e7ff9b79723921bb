package io.zonekeeper.kvm;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ByteChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.hostio.ProcessRunner;
import io.zonekeeper.kvm.accel.AccelVerdict;
import io.zonekeeper.kvm.accel.AcceleratorProbe;
import io.zonekeeper.kvm.image.ZoneImages;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.kvm.qemu.HostInfo;
import io.zonekeeper.kvm.qemu.Machine;
import io.zonekeeper.kvm.qemu.QemuCommandLine;
import io.zonekeeper.kvm.qemu.QemuDevices;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.kvm.qmp.QmpClient;
import io.zonekeeper.kvm.qmp.QmpException;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.ConsoleAccess;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.PausableDriver;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/**
 * Runs each zone as a QEMU process of its own (microvm, PVH boot; q35 for zones whose devices need it), which
 * outlives this driver and the JVM. The driver only starts, watches, stops and adopts them. Activation does nothing
 * expensive: the zone image, the accelerator probe and the QEMU version are worked out on first use.
 */
@Component(service = HypervisorDriver.class, configurationPid = KvmDriver.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = HypervisorDriver.TYPE_PROPERTY + "="
                + KvmDriver.TYPE)
@Designate(ocd = KvmDriverConfig.class)
public final class KvmDriver implements HypervisorDriver, PausableDriver, ConsoleAccess {
    public static final String TYPE = "kvm";
    public static final String PID = "io.zonekeeper.kvm";
    /** The framework (or system) property naming the state directory. */
    public static final String STATE_PROPERTY = "zonekeeper.state";
    public static final Path DEFAULT_STATE = Path.of("/var/lib/zonekeeper");
    /** What the probe image prints once the kernel reached init. */
    public static final String PROBE_MARKER = "zonekeeper: accel probe reached init";

    /** Runtime record keys, besides {@link RuntimeRecord#PID}. */
    public static final String R_QMP = "qmp";
    public static final String R_CONSOLE = "console";
    public static final String R_CONSOLE_LOG = "consoleLog";
    public static final String R_ACCEL = "accel";
    public static final String R_UUID = "uuid";
    public static final String R_KERNEL = "kernel";
    public static final String R_INITRAMFS = "initramfs";
    /** The machine the zone got ({@link Machine#id()}), and why it got that one. */
    public static final String R_MACHINE = "machine";
    public static final String R_MACHINE_REASON = "machine.reason";

    private static final Duration LAUNCH_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);

    /**
     * What the driver needs, for use as a plain object (tests, tools) as well as from configuration.
     *
     * @param stateDir      the state directory; images are cached in {@code <stateDir>/cache/kvm}
     * @param qemuBinary    the QEMU to run
     * @param accel         {@code auto}, {@code kvm} or {@code tcg}
     * @param defaultKernel the kernel of zones that name none, or null for the newest /boot/vmlinuz-*
     * @param machine       the least machine every zone gets; devices that need more raise it per zone
     */
    public record Settings(Path stateDir, String qemuBinary, String accel, String defaultKernel, Machine machine) {
        public Settings {
            if (!List.of("auto", "kvm", "tcg").contains(accel)) {
                throw new IllegalArgumentException("accel must be auto, kvm or tcg, not '" + accel + "'");
            }
            defaultKernel = defaultKernel == null || defaultKernel.isBlank() ? null : defaultKernel;
            machine = machine == null ? Machine.MICROVM_PVH : machine;
        }

        /** Settings where each zone gets the cheapest machine its devices allow. */
        public Settings(Path stateDir, String qemuBinary, String accel, String defaultKernel) {
            this(stateDir, qemuBinary, accel, defaultKernel, Machine.MICROVM_PVH);
        }
    }

    private volatile Settings settings;
    private volatile ZoneImages images;
    private final Map<UUID, ZoneWatch> watches = new ConcurrentHashMap<>();
    private final Map<UUID, ZoneState> ended = new ConcurrentHashMap<>();
    private final Map<String, AccelVerdict> verdicts = new ConcurrentHashMap<>();
    private volatile AccelVerdict lastVerdict;
    private volatile String qemuVersion;

    /** For Declarative Services; configured in {@link #activate}. */
    public KvmDriver() {
    }

    public KvmDriver(Settings settings) {
        configure(settings);
    }

    @Activate
    void activate(BundleContext context, KvmDriverConfig config) {
        configure(settingsOf(stateDir(context), config));
    }

    @Modified
    void modified(BundleContext context, KvmDriverConfig config) {
        configure(settingsOf(stateDir(context), config));
    }

    /** Stops watching every zone; the guests keep running, for the next driver instance to adopt. */
    @Deactivate
    public void deactivate() {
        for (ZoneWatch w : watches.values()) {
            w.release();
        }
        watches.clear();
    }

    private void configure(Settings s) {
        Settings old = settings;
        settings = s;
        images = ZoneImages.forHost(s.stateDir().resolve("cache").resolve("kvm"));
        if (old == null || !old.equals(s)) {
            verdicts.clear();
            qemuVersion = null;
        }
    }

    private static Settings settingsOf(Path state, KvmDriverConfig c) {
        return new Settings(state, c.qemuBinary(), c.accel(), c.defaultKernel(),
                c.machine() == null || c.machine().isBlank() ? null : Machine.parse(c.machine()));
    }

    /** The framework property, then the system property, then {@link #DEFAULT_STATE}. */
    static Path stateDir(BundleContext context) {
        String s = context == null ? null : context.getProperty(STATE_PROPERTY);
        if (s == null || s.isBlank()) {
            s = System.getProperty(STATE_PROPERTY);
        }
        return s == null || s.isBlank() ? DEFAULT_STATE : Path.of(s);
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Capabilities capabilities() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("qemu", qemuVersion());
        d.put("accel.setting", settings.accel());
        AccelVerdict v = lastVerdict;
        if (v == null) {
            if ("tcg".equals(settings.accel())) {
                d.put("accel", "tcg (forced by configuration accel=tcg)");
            } else if (!java.nio.file.Files.exists(Path.of("/dev/kvm"))) {
                // The first step of the self-test would stop here; say so without waiting for a zone.
                d.put("accel", "tcg: /dev/kvm does not exist on this host");
            } else {
                d.put("accel", "not decided yet: the self-test and probe boot run when the first zone starts");
            }
        } else {
            d.put("accel", v.accel());
            d.put("accel.reason", v.reason());
            v.steps().forEach((k, val) -> d.put("accel.step." + k, val));
        }
        String kernel = settings.defaultKernel();
        if (kernel == null) {
            try {
                kernel = images.newestKernel().toString();
            } catch (IOException e) {
                kernel = "none: " + e.getMessage();
            }
        }
        d.put("defaultKernel", kernel);
        d.put("imageCache", images.cacheDir().toString());
        d.put("machines", "microvm-pvh (no device needs more), q35-pvh (PCIE: pci), q35-firmware (FIRMWARE_ACPI:"
                + " tpm; boots the bzImage through SeaBIOS, slower)");
        d.put("machine.least", settings.machine().id());
        return new Capabilities(EnumSet.of(Feature.PAUSE, Feature.CONSOLE, Feature.ADOPTION, Feature.CHANNELS,
                Feature.NETWORK, Feature.DISK, Feature.PCI_PASSTHROUGH),
                HostInfo.cores(), Math.max(0, HostInfo.memAvailableMiB()), d, QemuDevices.TYPES);
    }

    private String qemuVersion() {
        String v = qemuVersion;
        if (v == null) {
            try {
                String out = new ProcessRunner(Duration.ofSeconds(5), 64 * 1024)
                        .run(List.of(settings.qemuBinary(), "--version")).output().strip();
                v = out.isEmpty() ? "unknown" : out.lines().findFirst().orElse("unknown");
            } catch (java.io.InterruptedIOException e) {
                return "unknown";
            } catch (IOException e) {
                v = "not found: " + settings.qemuBinary() + " (" + e.getMessage() + ")";
            }
            qemuVersion = v;
        }
        return v;
    }

    // ---------------------------------------------------------------------------------------------------- start

    @Override
    public RuntimeRecord start(ZoneContext zone) throws DriverException {
        ZoneSpec spec = zone.spec();
        ZoneWatch running = watches.get(zone.id());
        if (running != null && running.process.isAlive()) {
            throw new DriverException("zone " + zone.name() + " already runs (QEMU pid " + running.process.pid()
                    + "); stop it first");
        }
        Optional<Long> recorded = recordedPid(zone);
        if (recorded.isPresent() && QemuProcess.isQemuOf(recorded.get(), zone.id())) {
            throw new DriverException("zone " + zone.name() + " already runs as QEMU pid " + recorded.get()
                    + ", which this driver has not adopted yet; adopt or stop it first");
        }
        QemuCommandLine.checkSupported(spec, null);
        PreparedResources resources = zone.resources();
        QemuCommandLine.checkPrepared(spec, resources);
        checkHostResources(spec);
        BootImage image = image(spec);
        Machine machine = QemuDevices.machineFor(resources, settings.machine());
        checkFirmwareBootable(spec, image, machine);
        AccelVerdict verdict = accelFor(image);
        ZoneFiles files = new ZoneFiles(zone.directory());
        List<String> argv = new QemuCommandLine(settings.qemuBinary(), verdict.accel(), HostInfo.tscKhz(),
                settings.machine()).render(zone.id(), zone.name(), spec, files, image, resources);

        Attempt attempt = new Attempt(files, spec);
        QemuProcess process = null;
        try {
            attempt.prepare();
            process = QemuProcess.launch(argv, files, LAUNCH_TIMEOUT);
            ZoneWatch watch = new ZoneWatch(zone, files, process, verdict.accel(), this::gone);
            QmpClient qmp = QmpClient.connect(files.qmpSocket(), QMP_TIMEOUT, watch::onEvent, watch::onQmpClosed);
            if (qemuVersion == null) {
                qemuVersion = versionFromGreeting(qmp);
            }
            RuntimeRecord record = record(zone, files, process.pid(), verdict.accel(), image, resources, machine,
                    QemuDevices.why(resources, settings.machine(), machine));
            zone.saveRuntime(record);
            ended.remove(zone.id());
            watches.put(zone.id(), watch);
            watch.attach(qmp, ZoneState.RUNNING);
            return record;
        } catch (DriverException | QmpException | RuntimeException e) {
            String msg = "zone " + zone.name() + " did not start: ";
            if (process != null && !process.waitFor(Duration.ofMillis(200))) {
                process.kill(Duration.ofSeconds(5));
                msg += e.getMessage();
                if (!(e instanceof DriverException) && Files.exists(files.qemuLog())) {
                    msg += "; QEMU said: " + QemuProcess.tail(files.qemuLog(), 1500);
                }
            } else if (process != null) {
                // QEMU gave up by itself after making its sockets (a kernel it cannot load, say): its words matter.
                msg += "QEMU exited at start" + process.exitCode().stream().mapToObj(c -> " with code " + c)
                        .findFirst().orElse("") + ": " + QemuProcess.tail(files.qemuLog(), 1500);
            } else {
                msg += e.getMessage();
            }
            attempt.undo();
            throw new DriverException(msg, e);
        }
    }

    /** What one start attempt made in the zone's folder, so a failure can take exactly that back. */
    private static final class Attempt {
        private final ZoneFiles files;
        private final ZoneSpec spec;
        private long consoleLogSize = -1;
        private boolean madeChannelsDir;

        Attempt(ZoneFiles files, ZoneSpec spec) {
            this.files = files;
            this.spec = spec;
        }

        void prepare() throws DriverException {
            try {
                Files.createDirectories(files.dir());
                if (Files.exists(files.consoleLog())) {
                    consoleLogSize = Files.size(files.consoleLog());
                }
                removeRuntimeFiles(files, spec);
                if (!spec.channels().isEmpty() && !Files.isDirectory(files.channelsDir())) {
                    Files.createDirectory(files.channelsDir());
                    madeChannelsDir = true;
                }
            } catch (IOException e) {
                throw new DriverException("cannot prepare " + files.dir() + ": " + e.getMessage(), e);
            }
        }

        void undo() {
            removeRuntimeFiles(files, spec);
            ZoneWatch.deleteQuietly(files.qemuLog());
            if (madeChannelsDir) {
                ZoneWatch.deleteQuietly(files.channelsDir());
            }
            try {
                if (consoleLogSize < 0) {
                    Files.deleteIfExists(files.consoleLog());
                } else if (Files.exists(files.consoleLog())) {
                    try (FileChannel ch = FileChannel.open(files.consoleLog(), StandardOpenOption.WRITE)) {
                        ch.truncate(consoleLogSize);
                    }
                }
            } catch (IOException ignored) {
                // the console log is the operator's to read; a few extra lines do no harm
            }
        }
    }

    private void checkHostResources(ZoneSpec spec) throws DriverException {
        long avail = HostInfo.memAvailableMiB();
        if (avail >= 0 && spec.memoryMiB() > avail) {
            throw new DriverException("zone " + spec.name() + " asks for " + spec.memoryMiB() + " MiB but the host has"
                    + " only " + avail + " MiB available (MemAvailable); give it less memory or free some");
        }
        int cores = HostInfo.cores();
        if (spec.vcpus() > cores) {
            throw new DriverException("zone " + spec.name() + " asks for " + spec.vcpus() + " vCPUs but the host has "
                    + cores + " cores; the kvm driver gives a zone at most one vCPU per host core");
        }
    }

    private BootImage image(ZoneSpec spec) throws DriverException {
        String kernel = spec.kernel() != null ? spec.kernel() : settings.defaultKernel();
        try {
            return images.image(kernel == null ? null : Path.of(kernel),
                    spec.initramfs() == null ? null : Path.of(spec.initramfs()));
        } catch (IOException e) {
            throw new DriverException("zone image for " + spec.name() + ": " + e.getMessage(), e);
        }
    }

    private AccelVerdict accelFor(BootImage image) throws DriverException {
        String key = settings.accel() + " " + image.bootKernel();
        AccelVerdict v = verdicts.get(key);
        if (v == null) {
            if ("tcg".equals(settings.accel())) {
                v = new AccelVerdict(AccelVerdict.TCG, "forced by configuration accel=tcg", Map.of());
            } else {
                try {
                    Path probe = images.probeInitramfs(PROBE_MARKER);
                    v = new AcceleratorProbe(images.cacheDir().resolve("accel"), settings.qemuBinary())
                            .decide(settings.accel(), image.bootKernel(), probe, PROBE_MARKER);
                } catch (IOException e) {
                    throw new DriverException("cannot build the accelerator probe image: " + e.getMessage(), e);
                } catch (RuntimeException e) {
                    throw new DriverException("the accelerator self-test failed: " + e, e);
                }
            }
            verdicts.put(key, v);
        }
        lastVerdict = v;
        return v;
    }

    private static String versionFromGreeting(QmpClient qmp) {
        try {
            var q = qmp.greeting().getJsonObject("version").getJsonObject("qemu");
            return "QEMU " + q.getInt("major") + "." + q.getInt("minor") + "." + q.getInt("micro");
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** A machine that boots through firmware needs a bzImage: an ELF vmlinux has only the PVH entry. */
    private static void checkFirmwareBootable(ZoneSpec spec, BootImage image, Machine machine) throws DriverException {
        if (!machine.firmware()) {
            return;
        }
        try {
            if (!ZoneImages.isBzImage(image.kernel())) {
                throw new DriverException("zone " + spec.name() + " needs the " + machine.id() + " machine (its"
                        + " devices need ACPI tables from firmware), which boots a bzImage, but kernel "
                        + image.kernel() + " is not one; name a vmlinuz (bzImage) as its kernel");
            }
        } catch (IOException e) {
            throw new DriverException("cannot read kernel " + image.kernel() + ": " + e.getMessage(), e);
        }
    }

    private RuntimeRecord record(ZoneContext zone, ZoneFiles files, long pid, String accel, BootImage image,
            PreparedResources resources, Machine machine, String machineReason) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(RuntimeRecord.PID, String.valueOf(pid));
        p.put(R_UUID, zone.id().toString());
        p.put(R_QMP, files.qmpSocket().toString());
        p.put(R_CONSOLE, files.consoleSocket().toString());
        p.put(R_CONSOLE_LOG, files.consoleLog().toString());
        p.put(R_ACCEL, accel);
        p.put(R_KERNEL, image.kernel().toString());
        p.put(R_INITRAMFS, image.initramfs().toString());
        p.put(R_MACHINE, machine.id());
        p.put(R_MACHINE_REASON, machineReason);
        List<String> devices = QemuDevices.describe(resources.devices());
        for (int i = 0; i < devices.size(); i++) {
            p.put("device." + i, devices.get(i));
        }
        for (int i = 0; i < resources.nics().size(); i++) {
            var n = resources.nics().get(i);
            p.put("nic." + i, n.network() + " " + n.address() + " " + n.mac() + " tap " + n.tapDevice());
        }
        for (int i = 0; i < resources.disks().size(); i++) {
            var d = resources.disks().get(i);
            p.put("disk." + i, d.path() + " " + d.format() + (d.readOnly() ? " ro" : " rw"));
        }
        for (var c : zone.spec().channels()) {
            var pc = c.peer() == null ? null : resources.channel(c.name());
            p.put("channel." + c.name(), pc == null ? "host " + files.channelSocket(c.name())
                    : (pc.listens() ? "listens on " : "connects to ") + pc.socket() + " (zone " + pc.peer() + ")");
        }
        return new RuntimeRecord(TYPE, p);
    }

    private void gone(ZoneWatch w) {
        watches.remove(w.id, w);
        ended.put(w.id, w.state());
    }

    /** Removes the sockets and the pidfile of a QEMU that no longer runs; keeps the logs. */
    static void removeRuntimeFiles(ZoneFiles files, ZoneSpec spec) {
        ZoneWatch.deleteQuietly(files.qmpSocket());
        ZoneWatch.deleteQuietly(files.consoleSocket());
        ZoneWatch.deleteQuietly(files.pidFile());
        for (var c : spec.channels()) {
            ZoneWatch.deleteQuietly(files.channelSocket(c.name()));
        }
    }

    // ----------------------------------------------------------------------------------------------- adoption

    @Override
    public Adoption adopt(ZoneContext zone) {
        ZoneWatch w = watches.get(zone.id());
        if (w != null && w.process.isAlive()) {
            return Adoption.adopted(w.state());
        }
        Optional<RuntimeRecord> rec = zone.runtime();
        if (rec.isEmpty()) {
            return Adoption.refused("zone " + zone.name() + " has no runtime record, so no guest to adopt");
        }
        if (!TYPE.equals(rec.get().driver())) {
            return Adoption.refused("the runtime record was written by the " + rec.get().driver() + " driver");
        }
        Optional<Long> pid = recordedPid(zone);
        if (pid.isEmpty()) {
            return Adoption.refused("the runtime record has no valid pid");
        }
        Optional<QemuProcess> process = QemuProcess.find(pid.get());
        if (process.isEmpty()) {
            return Adoption.refused("QEMU pid " + pid.get() + " of zone " + zone.name() + " no longer runs");
        }
        Optional<String> notOurs = QemuProcess.whyNotQemuOf(QemuProcess.cmdline(pid.get()), zone.id());
        if (notOurs.isPresent()) {
            return Adoption.refused("pid " + pid.get() + " is not zone " + zone.name() + "'s QEMU: " + notOurs.get());
        }
        ZoneFiles files = new ZoneFiles(zone.directory());
        Path qmpSocket = rec.get().get(R_QMP).map(Path::of).orElse(files.qmpSocket());
        ZoneWatch watch = new ZoneWatch(zone, files, process.get(), rec.get().get(R_ACCEL).orElse("?"), this::gone);
        QmpClient qmp;
        try {
            qmp = QmpClient.connect(qmpSocket, Duration.ofSeconds(3), watch::onEvent, watch::onQmpClosed);
        } catch (QmpException e) {
            return Adoption.refused("QEMU pid " + pid.get() + " does not answer on QMP (" + e.getMessage()
                    + "); is another driver instance still connected?");
        }
        try {
            UUID vm = qmp.queryUuid();
            if (!vm.equals(zone.id())) {
                qmp.close();
                return Adoption.refused("QEMU pid " + pid.get() + " runs VM " + vm + ", not zone " + zone.id());
            }
            String status = qmp.queryStatus();
            ZoneState state = switch (status) {
                case "running" -> ZoneState.RUNNING;
                case "shutdown" -> ZoneState.STOPPING;
                default -> ZoneState.PAUSED;
            };
            if (qemuVersion == null) {
                qemuVersion = versionFromGreeting(qmp);
            }
            ended.remove(zone.id());
            watches.put(zone.id(), watch);
            watch.attach(qmp, state);
            return Adoption.adopted(state);
        } catch (QmpException e) {
            qmp.close();
            return Adoption.refused("QEMU pid " + pid.get() + " did not prove its identity over QMP: "
                    + e.getMessage());
        }
    }

    @Override
    public void release(ZoneContext zone) {
        ZoneWatch w = watches.remove(zone.id());
        if (w != null) {
            w.release();
        }
    }

    private static Optional<Long> recordedPid(ZoneContext zone) {
        return zone.runtime().flatMap(r -> r.get(RuntimeRecord.PID)).flatMap(s -> {
            try {
                return Optional.of(Long.parseLong(s.trim()));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        });
    }

    /** The zone's watch, adopting the guest first when this instance does not watch it yet. */
    private Optional<ZoneWatch> watchOf(ZoneContext zone) {
        ZoneWatch w = watches.get(zone.id());
        if (w == null && zone.runtime().isPresent() && adopt(zone).adopted()) {
            w = watches.get(zone.id());
        }
        return Optional.ofNullable(w);
    }

    // ------------------------------------------------------------------------------------------- stop and kill

    @Override
    public void stop(ZoneContext zone, Duration grace) throws DriverException {
        Optional<ZoneWatch> found = watchOf(zone);
        if (found.isEmpty()) {
            return; // nothing of this zone runs
        }
        ZoneWatch w = found.get();
        w.ask();
        QmpClient qmp = w.qmp();
        if (qmp != null && qmp.isOpen()) {
            try {
                qmp.systemPowerdown();
            } catch (QmpException ignored) {
                // QEMU may be on its way out already; the wait below tells
            }
        }
        if (!w.process.waitFor(grace)) {
            if (qmp != null && qmp.isOpen()) {
                try {
                    qmp.quit();
                } catch (QmpException ignored) {
                    // fall through to SIGKILL
                }
            }
            if (!w.process.waitFor(Duration.ofSeconds(3)) && !w.process.kill(Duration.ofSeconds(5))) {
                throw new DriverException("QEMU pid " + w.process.pid() + " of zone " + zone.name()
                        + " survived SIGKILL; check the host");
            }
        }
        finish(w, ZoneState.STOPPED);
    }

    @Override
    public void kill(ZoneContext zone) throws DriverException {
        ZoneFiles files = new ZoneFiles(zone.directory());
        ZoneWatch w = watches.get(zone.id());
        if (w != null) {
            w.ask();
            QmpClient qmp = w.qmp();
            if (qmp != null && qmp.isOpen()) {
                try {
                    qmp.quit();
                } catch (QmpException ignored) {
                    // SIGKILL below
                }
            }
            if (!w.process.waitFor(Duration.ofSeconds(1)) && !w.process.kill(Duration.ofSeconds(5))) {
                throw new DriverException("QEMU pid " + w.process.pid() + " of zone " + zone.name()
                        + " survived SIGKILL; check the host");
            }
            finish(w, ZoneState.STOPPED);
        } else {
            // Not watched: kill only a process proven to be this zone's QEMU; never a PID that was reused.
            Optional<Long> pid = recordedPid(zone);
            if (pid.isPresent() && QemuProcess.isQemuOf(pid.get(), zone.id())) {
                Optional<QemuProcess> p = QemuProcess.find(pid.get());
                if (p.isPresent() && !p.get().kill(Duration.ofSeconds(5))) {
                    throw new DriverException("QEMU pid " + pid.get() + " survived SIGKILL; check the host");
                }
            }
            ended.put(zone.id(), ZoneState.STOPPED);
        }
        removeRuntimeFiles(files, zone.spec());
        ZoneWatch.deleteQuietly(files.qemuLog());
        ZoneWatch.deleteQuietly(files.channelsDir());
    }

    private void finish(ZoneWatch w, ZoneState end) {
        QmpClient qmp = w.qmp();
        if (qmp != null) {
            qmp.close();
        }
        removeRuntimeFiles(w.files, w.zone.spec());
        watches.remove(w.id, w);
        ended.put(w.id, end);
    }

    @Override
    public ZoneState observe(ZoneContext zone) {
        ZoneWatch w = watches.get(zone.id());
        if (w != null) {
            return w.process.isAlive() ? w.state() : ended.getOrDefault(zone.id(), ZoneState.STOPPED);
        }
        Optional<Long> pid = recordedPid(zone);
        if (pid.isPresent() && QemuProcess.isQemuOf(pid.get(), zone.id())) {
            return ZoneState.RUNNING; // runs, though no driver instance watches it yet
        }
        return ended.getOrDefault(zone.id(), zone.runtime().isPresent() ? ZoneState.STOPPED : ZoneState.DEFINED);
    }

    // ------------------------------------------------------------------------------------------ pause, console

    @Override
    public void pause(ZoneContext zone) throws DriverException {
        ZoneWatch w = requireRunning(zone, "pause");
        try {
            w.expectPause();
            w.qmp().stop();
            w.paused();
        } catch (QmpException e) {
            throw new DriverException("cannot pause zone " + zone.name() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void resume(ZoneContext zone) throws DriverException {
        ZoneWatch w = requireRunning(zone, "resume");
        try {
            w.expectResume();
            w.qmp().cont();
            w.resumed();
        } catch (QmpException e) {
            throw new DriverException("cannot resume zone " + zone.name() + ": " + e.getMessage(), e);
        }
    }

    private ZoneWatch requireRunning(ZoneContext zone, String what) throws DriverException {
        Optional<ZoneWatch> w = watchOf(zone);
        if (w.isEmpty() || !w.get().process.isAlive() || w.get().qmp() == null || !w.get().qmp().isOpen()) {
            throw new DriverException("cannot " + what + " zone " + zone.name() + ": it does not run under this"
                    + " driver");
        }
        return w.get();
    }

    @Override
    public Path consoleLog(ZoneContext zone) {
        return new ZoneFiles(zone.directory()).consoleLog();
    }

    @Override
    public ByteChannel attachConsole(ZoneContext zone) throws DriverException {
        ZoneWatch w = requireRunning(zone, "attach to the console of");
        try {
            return SocketChannel.open(UnixDomainSocketAddress.of(w.files.consoleSocket()));
        } catch (IOException e) {
            throw new DriverException("cannot attach to the console of zone " + zone.name() + " at "
                    + w.files.consoleSocket() + ": " + e.getMessage(), e);
        }
    }

    /** The QEMU pid this instance watches for the zone, if any (for tools and tests). */
    public Optional<Long> watchedPid(UUID zone) {
        ZoneWatch w = watches.get(zone);
        return w == null ? Optional.empty() : Optional.of(w.process.pid());
    }
}

package io.zonekeeper.kvm;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;
import io.zonekeeper.hostio.LogCapper;
import io.zonekeeper.hostio.CrashPoint;
import io.zonekeeper.hostio.GuestProcessScan;
import io.zonekeeper.hostio.ProcessRunner;
import io.zonekeeper.image.BootFolders;
import io.zonekeeper.kvm.accel.AccelVerdict;
import io.zonekeeper.kvm.image.ZoneImages;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.kvm.jail.JailSettings;
import io.zonekeeper.kvm.jail.ZoneJail;
import io.zonekeeper.kvm.jail.ZoneJails;
import io.zonekeeper.kvm.qemu.DiskHandoff;
import io.zonekeeper.kvm.qemu.LaunchScript;
import io.zonekeeper.kvm.qemu.Rendezvous;
import io.zonekeeper.kvm.qemu.HostInfo;
import io.zonekeeper.kvm.qemu.Machine;
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
import io.zonekeeper.guest.AgentEndpoint;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.StateLocation;
import io.zonekeeper.spi.ZoneContext;

/**
 * Runs each zone as a QEMU process of its own (microvm, PVH boot; q35 for zones whose devices need it), which
 * outlives this driver and the JVM. The driver only starts, watches, stops and adopts them. Activation does nothing
 * expensive: the zone image, the accelerator probe and the QEMU version are worked out on first use.
 */
@Component(service = { HypervisorDriver.class, ZoneMetricsSource.class }, configurationPid = KvmDriver.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = HypervisorDriver.TYPE_PROPERTY + "="
                + KvmDriver.TYPE)
@Designate(ocd = KvmDriverConfig.class)
public final class KvmDriver implements HypervisorDriver, PausableDriver, ConsoleAccess, ZoneMetricsSource {
    public static final String TYPE = "kvm";
    public static final String PID = "io.zonekeeper.kvm";
    /** What the probe image prints once the kernel reached init. */
    public static final String PROBE_MARKER = "zonekeeper: accel probe reached init";

    /** Runtime record keys, besides {@link RuntimeRecord#PID}. */
    public static final String R_QMP = "qmp";
    public static final String R_CONSOLE = "console";
    public static final String R_ACCEL = "accel";
    public static final String R_UUID = "uuid";
    public static final String R_KERNEL = "kernel";
    public static final String R_INITRAMFS = "initramfs";
    /** The machine the zone got ({@link Machine#id()}), and why it got that one. */
    public static final String R_MACHINE = "machine";
    public static final String R_MACHINE_REASON = "machine.reason";
    /** Why a zone's QEMU runs unconfined; a jailed one records {@link ZoneJail#R_UID} and the rest instead. */
    public static final String R_JAIL = "jail";
    /** Whether the zone's cgroup limits hold, in one line (zone:info shows it). */
    public static final String R_LIMITS = "limits";
    /** Where the start's time went, step by step, in milliseconds ({@link StartPhases}). */
    public static final String R_START_PHASES = "start.phases";

    private static final Duration LAUNCH_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);
    /** How long a start waits for QMP while QEMU's main thread keeps working ({@link StartHandshake}). */
    private static final Duration QMP_START_LIMIT = Duration.ofSeconds(60);
    /** How often the console logs of watched zones are checked against their cap. */
    static final long LOG_CAP_PERIOD_S = 2;
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.kvm");

    /**
     * What the driver needs, for use as a plain object (tests, tools) as well as from configuration.
     *
     * @param stateDir      the state directory; images are cached in {@code <stateDir>/cache/kvm}
     * @param qemuBinary    the QEMU to run
     * @param accel         {@code auto}, {@code kvm} or {@code tcg}
     * @param defaultKernel the kernel of zones that name none, or null for the newest /boot/vmlinuz-*
     * @param machine       the least machine every zone gets; devices that need more raise it per zone
     * @param bootFolders   folders besides the image cache and /boot that a spec's kernel and initramfs may come from
     * @param consoleLogCap the most bytes a zone's console.log holds before it is rotated to console.log.1
     * @param jail          how each zone's QEMU is confined (its own uid, an empty chroot, a cgroup)
     */
    public record Settings(Path stateDir, String qemuBinary, String accel, String defaultKernel, Machine machine,
            List<Path> bootFolders, long consoleLogCap, JailSettings jail) {
        /** 8 MiB: days of a chatty guest's boot and service messages, nothing to the state disk. */
        public static final long DEFAULT_CONSOLE_LOG_CAP = 8L << 20;

        public Settings {
            if (!List.of("auto", "kvm", "tcg").contains(accel)) {
                throw new IllegalArgumentException("accel must be auto, kvm or tcg, not '" + accel + "'");
            }
            if (consoleLogCap < 1024) {
                throw new IllegalArgumentException("the console log cap must be at least 1 KiB, not " + consoleLogCap
                        + " bytes");
            }
            defaultKernel = defaultKernel == null || defaultKernel.isBlank() ? null : defaultKernel;
            machine = machine == null ? Machine.MICROVM_PVH : machine;
            bootFolders = bootFolders == null ? List.of() : List.copyOf(bootFolders);
            jail = jail == null ? JailSettings.DEFAULT : jail;
        }

        /** Settings whose zones get the default jail. */
        public Settings(Path stateDir, String qemuBinary, String accel, String defaultKernel, Machine machine,
                List<Path> bootFolders, long consoleLogCap) {
            this(stateDir, qemuBinary, accel, defaultKernel, machine, bootFolders, consoleLogCap, JailSettings.DEFAULT);
        }

        /** Settings whose zones' kernels and initramfs come from the image cache and /boot only, with the default cap. */
        public Settings(Path stateDir, String qemuBinary, String accel, String defaultKernel, Machine machine) {
            this(stateDir, qemuBinary, accel, defaultKernel, machine, List.of(), DEFAULT_CONSOLE_LOG_CAP);
        }

        /** Settings where each zone gets the cheapest machine its devices allow. */
        public Settings(Path stateDir, String qemuBinary, String accel, String defaultKernel) {
            this(stateDir, qemuBinary, accel, defaultKernel, Machine.MICROVM_PVH);
        }
    }

    /** zone-core's state directory; images are cached in its cache folder. */
    @Reference
    private StateLocation stateLocation;
    private volatile Settings settings;
    private volatile ZoneImages images;
    private volatile AccelChoice accel;
    private volatile StartPlanner planner;
    /** The image store, for image zones; optional, so that the driver runs without zone-images. */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    private volatile io.zonekeeper.api.image.ImageStore imageStore;
    private final Map<UUID, ZoneWatch> watches = new ConcurrentHashMap<>();
    private final Map<UUID, ZoneState> ended = new ConcurrentHashMap<>();
    private volatile String qemuVersion;
    private LogCapper logCapper;
    private volatile ZoneJails jails;

    /** For Declarative Services; configured in {@link #activate}. */
    public KvmDriver() {
    }

    public KvmDriver(Settings settings) {
        configure(settings);
    }

    @Activate
    void activate(KvmDriverConfig config, org.osgi.framework.BundleContext context) {
        configure(settingsOf(stateLocation.directory(), config));
        if (besideARunningRevision(context)) {
            warmAdoptionPath();
        }
    }

    /**
     * Whether another revision of this bundle is active: a driver upgrade starts the new bundle beside the running
     * one, and then switches and adopts every zone with it at once.
     */
    private static boolean besideARunningRevision(org.osgi.framework.BundleContext context) {
        org.osgi.framework.Bundle self = context.getBundle();
        for (org.osgi.framework.Bundle b : context.getBundles()) {
            if (b.getBundleId() != self.getBundleId() && self.getSymbolicName().equals(b.getSymbolicName())
                    && b.getState() == org.osgi.framework.Bundle.ACTIVE) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs the adoption path's own code once, on canned input and this JVM's own process, touching no zone: the
     * classes of a freshly started revision are otherwise linked and initialized by the first adoptions, inside the
     * upgrade window, where every adopting thread waits for whichever one holds a class's initialization (measured:
     * the first adoptions' first steps took 13-74 ms of wall clock for 0.5 ms of CPU). Called while the revision is
     * staged, before the switch; a failure here only means less warmth.
     */
    static void warmAdoptionPath() {
        try {
            QmpClient.warmUp();
            long self = ProcessHandle.current().pid();
            QemuProcess.find(self);
            QemuProcess.whyNotQemuOf(QemuProcess.cmdline(self), new UUID(0, 0));
            RuntimeRecord canned = new RuntimeRecord(TYPE, Map.of(RuntimeRecord.PID, String.valueOf(self),
                    R_QMP, "/nonexistent/qmp.sock"));
            StartingRecord.isStarting(canned);
            canned.get(R_QMP).map(Path::of);
            new ZoneFiles(Path.of("/nonexistent")).qmpSocket();
            ClassLoader loader = KvmDriver.class.getClassLoader();
            for (Class<?> c : List.of(ZoneWatch.class, ZoneJails.class, Adoption.class, ZoneState.class)) {
                Class.forName(c.getName(), true, loader);
            }
        } catch (ClassNotFoundException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "warming the adoption path: " + e);
        }
    }

    @Modified
    void modified(KvmDriverConfig config) {
        configure(settingsOf(stateLocation.directory(), config));
    }

    /** Stops watching every zone; the guests keep running, for the next driver instance to adopt. */
    @Deactivate
    public synchronized void deactivate() {
        if (logCapper != null) {
            logCapper.close();
            logCapper = null;
        }
        for (ZoneWatch w : watches.values()) {
            w.release();
        }
        watches.clear();
    }

    private synchronized void configure(Settings s) {
        Settings old = settings;
        settings = s;
        if (logCapper == null) {
            // The workload log of an image zone is held to the same cap; a zone without one has no such file.
            logCapper = new LogCapper("kvm-console-log-cap", () -> watches.values().stream()
                    .flatMap(w -> Stream.of(new LogCapper.ZoneLog(w.zone.name(), w.files.consoleLog()),
                            new LogCapper.ZoneLog(w.zone.name(), w.files.workloadLog()))).toList(),
                    () -> settings.consoleLogCap(), LOG_CAP_PERIOD_S);
        }
        images = ZoneImages.forHost(s.stateDir().resolve("cache").resolve("kvm"));
        if (jails == null || !jails.settings().equals(s.jail())) {
            jails = new ZoneJails(s.jail(), s.stateDir().resolve("kvm-jail"));
            jails.lookUpCgroups();
        }
        if (old == null || !old.equals(s)) {
            accel = new AccelChoice(s.accel(), s.qemuBinary(), images);
            qemuVersion = null;
        }
        planner = new StartPlanner(s.qemuBinary(), s.machine(), StartPlanner.from(images, s.defaultKernel(),
                new BootFolders(images.cacheDir(), Path.of("/boot"), s.bootFolders(), PID)), accel::forImage,
                HostInfo::facts, () -> imageStore);
    }

    private static Settings settingsOf(Path state, KvmDriverConfig c) {
        return new Settings(state, c.qemuBinary(), c.accel(), c.defaultKernel(),
                c.machine() == null || c.machine().isBlank() ? null : Machine.parse(c.machine()),
                c.bootFolders() == null ? List.of() : java.util.Arrays.stream(c.bootFolders()).map(String::trim)
                        .filter(f -> !f.isEmpty()).map(Path::of).toList(),
                c.consoleLogCapKiB() * 1024L, new JailSettings(c.jail(), c.jailIdBase(), c.jailIdCount(),
                        c.cgroupMemoryOverheadMiB(), c.cgroupParent()));
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
        AccelVerdict v = accel.last();
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
        d.put("console.log.cap", settings.consoleLogCap() / 1024 + " KiB, then console.log.1");
        d.put("workload.log.cap", settings.consoleLogCap() / 1024 + " KiB, then workload.log.1 (image zones)");
        d.putAll(jails.describe());
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

    /** Plans the start in one pass ({@link StartPlanner}), then runs the plan. */
    @Override
    public RuntimeRecord start(ZoneContext zone) throws DriverException {
        StartPhases phases = new StartPhases();
        refuseIfRunning(zone);
        phases.mark("scan");
        StartPlan plan = planner.plan(zone.id(), zone.name(), zone.spec(), zone.directory(), zone.resources());
        phases.mark("plan");
        return run(zone, plan, phases);
    }

    private void refuseIfRunning(ZoneContext zone) throws DriverException {
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
        // A QEMU whose record was lost still holds the zone's disks and taps: never start a second one beside it.
        for (long pid : GuestProcessScan.host().pidsOf(zone.id())) {
            if (QemuProcess.isQemuOf(pid, zone.id())) {
                throw new DriverException("zone " + zone.name() + " already runs as QEMU pid " + pid + " (found by"
                        + " its uuid, with no runtime record naming it); stop that process first");
            }
        }
    }

    /** Launches the plan's QEMU, connects to its QMP, records and watches it; decides nothing of its own. */
    private RuntimeRecord run(ZoneContext zone, StartPlan plan, StartPhases phases) throws DriverException {
        // The log may have grown while no driver watched the zone.
        LogCapper.capNow(plan.files().consoleLog(), settings.consoleLogCap(), zone.name());
        LogCapper.capNow(plan.files().workloadLog(), settings.consoleLogCap(), zone.name());
        StartAttempt attempt = new StartAttempt(plan.files(), plan.spec());
        QemuProcess process = null;
        Optional<String> unjailed = jails.whyUnjailed(plan.spec(), plan.resources());
        ZoneJail jail = null;
        DiskHandoff disks = DiskHandoff.none();
        try {
            attempt.prepare();
            Rendezvous.prepare(plan.resources());
            // Opened after zone-disk's check and handed to QEMU as open files: no gap between check and use.
            disks = DiskHandoff.open(plan.resources().disks());
            List<String> argv = disks.qemuArgv(plan.argv());
            LaunchScript script;
            if (unjailed.isEmpty()) {
                jail = jails.open(zone.id(), plan.spec(), plan.resources());
                argv = jail.qemuArgv(argv);
                script = jail.launchScript(disks.redirections());
            } else {
                script = new LaunchScript(List.of(), Optional.empty(), Optional.empty(), disks.redirections());
            }
            argv = script.wrap(argv);
            String limits = jail != null ? jails.limits() : "not enforced (the zone runs without a jail)";
            phases.mark("jail");
            // Durable before the launch: a kill -9 from here on leaves the next appliance the pidfile to look at.
            zone.saveRuntime(StartingRecord.of(record(zone, plan, 0, jail, unjailed, limits, null), plan.files()));
            phases.mark("record");
            CrashPoint.reach("kvm.before-launch");
            process = QemuProcess.launch(argv, plan.files(), LAUNCH_TIMEOUT);
            phases.mark("launch");
            CrashPoint.reach("kvm.launched");
            disks.close();
            ZoneWatch watch = new ZoneWatch(zone, plan.files(), process, plan.accel(), this::gone);
            QmpClient qmp = StartHandshake.connect(plan.files().qmpSocket(), process.pid(), QMP_TIMEOUT,
                    QMP_START_LIMIT, watch::onEvent, watch::onQmpClosed);
            if (qemuVersion == null) {
                qemuVersion = versionFromGreeting(qmp);
            }
            Rendezvous.openToPeers(plan.resources());
            phases.mark("qmp");
            RuntimeRecord record = record(zone, plan, process.pid(), jail, unjailed, limits, phases);
            zone.saveRuntime(record);
            ended.remove(zone.id());
            watches.put(zone.id(), watch);
            watch.attach(qmp, ZoneState.RUNNING);
            return record;
        } catch (DriverException | QmpException | RuntimeException e) {
            disks.close();
            DriverException failure = attempt.failed(zone.name(), process, e);
            if (jail != null) {
                jails.close(zone.id());
            }
            throw failure;
        }
    }

    private static String versionFromGreeting(QmpClient qmp) {
        try {
            var q = qmp.greeting().getJsonObject("version").getJsonObject("qemu");
            return "QEMU " + q.getInt("major") + "." + q.getInt("minor") + "." + q.getInt("micro");
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The zone's runtime record; without a pid while {@code pid} is 0 (before the launch). */
    private static RuntimeRecord record(ZoneContext zone, StartPlan plan, long pid, ZoneJail jail,
            Optional<String> unjailed, String limits, StartPhases phases) {
        ZoneFiles files = plan.files();
        BootImage image = plan.image();
        PreparedResources resources = plan.resources();
        String accel = plan.accel();
        Map<String, String> p = new LinkedHashMap<>();
        if (pid > 0) {
            p.put(RuntimeRecord.PID, String.valueOf(pid));
        }
        p.put(R_UUID, zone.id().toString());
        p.put(R_QMP, files.qmpSocket().toString());
        p.put(R_CONSOLE, files.consoleSocket().toString());
        p.put(RuntimeRecord.CONSOLE_LOG, files.consoleLog().toString());
        p.put(AgentEndpoint.RUNTIME_KEY, AgentEndpoint.unix(files.agentSocket()).toString());
        p.put(R_ACCEL, accel);
        p.put(R_KERNEL, image.kernel().toString());
        p.put(R_INITRAMFS, image.initramfs().toString());
        p.put(R_MACHINE, plan.machine().id());
        p.put(R_MACHINE_REASON, plan.machineReason());
        if (jail != null) {
            jail.putInto(p);
        } else {
            p.put(R_JAIL, "none: " + unjailed.orElse("?"));
        }
        p.put(R_LIMITS, limits);
        if (phases != null) {
            p.put(R_START_PHASES, phases.toString());
        }
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
        if (watches.remove(w.id, w)) {
            jails.close(w.id);
        }
        ended.put(w.id, w.state());
    }

    /** Removes the sockets and the pidfile of a QEMU that no longer runs; keeps the logs. */
    static void removeRuntimeFiles(ZoneFiles files, ZoneSpec spec) {
        ZoneWatch.deleteQuietly(files.qmpSocket());
        ZoneWatch.deleteQuietly(files.consoleSocket());
        // A chrooted QEMU cannot unlink its own sockets on exit; the agent's is one of them.
        ZoneWatch.deleteQuietly(files.agentSocket());
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
        boolean starting = StartingRecord.isStarting(rec.get());
        Optional<Long> pid = starting ? StartingRecord.guestPid(zone, rec.get(), GuestProcessScan.host())
                : recordedPid(zone, rec);
        if (pid.isEmpty()) {
            return Adoption.refused(starting ? "zone " + zone.name() + " was starting, and no QEMU with its uuid runs"
                    + " (its pidfile names none)" : "the runtime record has no valid pid");
        }
        Optional<QemuProcess> process = QemuProcess.find(pid.get());
        if (process.isEmpty()) {
            jails.close(zone.id());
            return Adoption.refused("QEMU pid " + pid.get() + " of zone " + zone.name() + " no longer runs");
        }
        Optional<String> notOurs = QemuProcess.whyNotQemuOf(QemuProcess.cmdline(pid.get()), zone.id());
        if (notOurs.isPresent()) {
            return Adoption.refused("pid " + pid.get() + " is not zone " + zone.name() + "'s QEMU: " + notOurs.get());
        }
        ZoneFiles files = new ZoneFiles(zone.directory());
        Path qmpSocket = rec.get().get(R_QMP).map(Path::of).orElse(files.qmpSocket());
        ZoneWatch watch = new ZoneWatch(zone, files, process.get(), rec.get().get(R_ACCEL).orElse("?"), this::gone);
        // One exchange: the negotiation and both queries are written together (QmpClient.connectAndProve).
        QmpClient.Proof proof;
        try {
            proof = QmpClient.connectAndProve(qmpSocket, Duration.ofSeconds(3), watch::onEvent, watch::onQmpClosed);
        } catch (QmpClient.IdentityUnproven e) {
            return Adoption.refused("QEMU pid " + pid.get() + " did not prove its identity over QMP: "
                    + e.getMessage());
        } catch (QmpException e) {
            return Adoption.refused("QEMU pid " + pid.get() + " does not answer on QMP (" + e.getMessage()
                    + "); is another driver instance still connected?");
        }
        QmpClient qmp = proof.client();
        UUID vm = proof.uuid();
        if (!vm.equals(zone.id())) {
            qmp.close();
            return Adoption.refused("QEMU pid " + pid.get() + " runs VM " + vm + ", not zone " + zone.id());
        }
        ZoneState state = switch (proof.status()) {
            case "running" -> ZoneState.RUNNING;
            case "shutdown" -> ZoneState.STOPPING;
            default -> ZoneState.PAUSED;
        };
        if (qemuVersion == null) {
            qemuVersion = versionFromGreeting(qmp);
        }
        if (starting) {
            // The appliance that launched it never wrote the full record; this one names the pid it proved.
            zone.saveRuntime(StartingRecord.adopted(rec.get(), pid.get()));
        }
        ended.remove(zone.id());
        watches.put(zone.id(), watch);
        jails.adopt(zone.id(), rec.get().properties());
        watch.attach(qmp, state);
        return Adoption.adopted(state);
    }

    @Override
    public void release(ZoneContext zone) {
        ZoneWatch w = watches.remove(zone.id());
        if (w != null) {
            w.release();
        }
    }

    /** The recorded pid, or for a record written just before a launch the pid in the pidfile it names. */
    private static Optional<Long> recordedPid(ZoneContext zone) {
        return recordedPid(zone, zone.runtime());
    }

    /** {@link #recordedPid(ZoneContext)} from a record the caller has read already (it is a file read and a parse). */
    private static Optional<Long> recordedPid(ZoneContext zone, Optional<RuntimeRecord> rec) {
        if (rec.isPresent() && StartingRecord.isStarting(rec.get())) {
            var fromFile = QemuProcess.readPid(rec.get().get(StartingRecord.R_PIDFILE).map(Path::of)
                    .orElse(new ZoneFiles(zone.directory()).pidFile()));
            return fromFile.isPresent() ? Optional.of((long) fromFile.getAsInt()) : Optional.empty();
        }
        return rec.flatMap(r -> r.get(RuntimeRecord.PID)).flatMap(s -> {
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
            jails.close(zone.id());
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
        jails.close(w.id);
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

    /** The QMP connection this instance holds to the zone's QEMU, if any (for tests that act as a hostile QEMU user). */
    Optional<QmpClient> qmpOf(UUID zone) {
        return Optional.ofNullable(watches.get(zone)).map(ZoneWatch::qmp);
    }

    /** The QEMU pid this instance watches for the zone, if any (for tools and tests). */
    public Optional<Long> watchedPid(UUID zone) {
        ZoneWatch w = watches.get(zone);
        return w == null ? Optional.empty() : Optional.of(w.process.pid());
    }

    /** Disk traffic of a zone this driver watches, from its QMP connection (zone-observe asks). */
    @Override
    public List<ZoneMetric> collect(ZoneInfo zone) {
        ZoneWatch w = watches.get(zone.id());
        return w == null ? List.of() : BlockStats.of(w.qmp());
    }
}

package io.zonekeeper.xen;

import java.io.File;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.api.metrics.ZoneMetricsSource;
import io.zonekeeper.guest.AgentEndpoint;
import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.hostio.LogCapper;
import io.zonekeeper.image.BootFolders;
import io.zonekeeper.image.ImageFiles;
import io.zonekeeper.image.ImageWorkload;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.ConsoleAccess;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.PausableDriver;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.StateLocation;
import io.zonekeeper.spi.ZoneContext;
import io.zonekeeper.xen.image.ZoneImage;
import io.zonekeeper.xen.vchan.KeeperConfig;
import io.zonekeeper.xen.xenstore.XenstoreException;
import io.zonekeeper.xen.xl.Domain;
import io.zonekeeper.xen.xl.DomainConfig;
import io.zonekeeper.xen.xl.DomainConfig.BootFiles;
import io.zonekeeper.xen.xl.HotplugScripts;
import io.zonekeeper.xen.xl.Xl;
import io.zonekeeper.xen.xl.XlStats;

/**
 * Runs each zone as a Xen domain, from dom0. A domain lives in the hypervisor and outlives this driver and the
 * JVM; the driver only creates, watches, stops and adopts. The domain's uuid is the zone's id, and a tag under
 * the domain's xenstore path ({@value #TAG}) repeats it; adoption takes a domain only when both agree.
 * Activation does nothing expensive: xl is first run when a zone starts or capabilities are asked for.
 */
@Component(service = { HypervisorDriver.class, ZoneMetricsSource.class }, configurationPid = XenDriver.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = HypervisorDriver.TYPE_PROPERTY + "="
                + XenDriver.TYPE)
@Designate(ocd = XenDriverConfig.class)
public final class XenDriver implements HypervisorDriver, PausableDriver, ConsoleAccess, ZoneMetricsSource {
    public static final String TYPE = "xen";
    public static final String PID = "io.zonekeeper.xen";
    /** The zone tag, relative to the domain's xenstore home: it holds the zone's id, and only dom0 may write it. */
    public static final String TAG = "zonekeeper/zone";

    /** Runtime record keys. */
    public static final String R_DOMID = "domid";
    public static final String R_UUID = "uuid";
    public static final String R_DOMAIN = "domain";
    public static final String R_TYPE = "guestType";
    public static final String R_CONFIG = "config";
    public static final String R_KERNEL = "kernel";
    public static final String R_INITRAMFS = "initramfs";
    /** The pid of the zone's channel keeper, for zones with channels. */
    public static final String R_KEEPER = "channelKeeper";
    /** Why an adopted zone's channels are not served, when they could not be. */
    public static final String R_KEEPER_NOTE = "channelKeeperNote";

    private static final Duration CAPS_TTL = Duration.ofSeconds(10);
    /** How often the console logs of the watched zones are held to their cap (seconds), as in the kvm driver. */
    static final long LOG_CAP_PERIOD_S = 2;

    /** zone-core's state directory; images are cached in its cache folder. */
    @Reference
    private StateLocation stateLocation;
    /** The image store, for image zones; optional, so that the driver runs without zone-images. */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    private volatile ImageStore imageStore;
    private volatile XenDriverSettings settings;
    private volatile Xl xl;
    private volatile ZoneImage image;
    /** Where a spec's own kernel and initramfs may come from. */
    private volatile BootFolders bootFolders;
    /** Started with the watcher, on first need. */
    private LogCapper logCapper;
    private volatile HotplugScripts hotplug;
    private volatile ChannelKeepers keepers;
    private volatile Domains lookup;
    /** Where the channel keeper's classes are: set from the bundle at activation, else this JVM's class path. */
    private volatile java.util.function.Function<Path, String> keeperClasspath =
            cache -> System.getProperty("java.class.path");
    private final Xl.Runner runner;
    private final Map<UUID, ZoneDomain> domains = new ConcurrentHashMap<>();
    private final Map<UUID, ZoneState> ended = new ConcurrentHashMap<>();
    private volatile DomainWatcher watcher;
    private volatile Capabilities cachedCaps;
    private volatile long capsAt;

    /** For Declarative Services; configured in {@link #activate}. */
    public XenDriver() {
        this.runner = Xl.processRunner();
    }

    /** A driver that runs xl through {@code runner} (tests give a fake one). */
    public XenDriver(XenDriverSettings settings, Xl.Runner runner) {
        this.runner = runner;
        configure(settings);
    }

    @Activate
    void activate(BundleContext context, XenDriverConfig config) {
        org.osgi.framework.Bundle bundle = context.getBundle();
        keeperClasspath = cache -> {
            try {
                return ChannelKeepers.bundleJar(bundle, cache).toString();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot copy the xen-driver bundle for the channel keeper", e);
            }
        };
        configure(XenDriverSettings.of(stateLocation.directory(), config));
    }

    @Modified
    void modified(XenDriverConfig config) {
        configure(XenDriverSettings.of(stateLocation.directory(), config));
    }

    /** Stops watching every zone; the domains keep running, for the next driver instance to adopt. */
    @Deactivate
    public void deactivate() {
        DomainWatcher w = watcher;
        watcher = null;
        if (w != null) {
            w.stop();
        }
        synchronized (this) {
            if (logCapper != null) {
                logCapper.close();
                logCapper = null;
            }
        }
        domains.clear();
    }

    private synchronized void configure(XenDriverSettings s) {
        settings = s;
        xl = new Xl(s.xlBinary(), runner);
        Path cache = s.stateDir().resolve("cache").resolve("xen");
        image = new ZoneImage(cache, Path.of("/boot"), s.modulesRoot(), s.busybox(), s.vchanProxy());
        bootFolders = new BootFolders(cache, Path.of("/boot"), s.bootFolders(), PID);
        hotplug = new HotplugScripts(cache.resolve("hotplug"));
        keepers = new ChannelKeepers(() -> keeperClasspath.apply(cache), s.xenstoreSocket(),
                s.stateDir().resolve("xen-keeper"));
        lookup = new Domains(xl, s.xenstoreSocket());
        cachedCaps = null;
        DomainWatcher old = watcher;
        if (old != null) {
            old.stop();
            watcher = null;
        }
        if (!domains.isEmpty()) {
            watcher().wake();
        }
    }

    /** The watcher, started on first need so that activation forks and connects nothing. */
    private synchronized DomainWatcher watcher() {
        DomainWatcher w = watcher;
        if (w == null) {
            w = new DomainWatcher(xl, settings.xenstoreSocket(), domains, new DomainWatcher.Listener() {
                @Override
                public void ended(ZoneDomain d, ZoneState state, String reason) {
                    domainEnded(d, state, reason);
                }

                @Override
                public void changed(ZoneDomain d, ZoneState state, String reason) {
                    report(d.zone, state, reason);
                }
            });
            w.start();
            watcher = w;
        }
        if (logCapper == null) {
            // xenconsoled appends to guest-NAME.log (O_APPEND) for as long as the domain lives.
            logCapper = new LogCapper("xen-console-log-cap", () -> domains.values().stream()
                    .map(d -> new LogCapper.ZoneLog(d.zone.name(), consoleLog(d.zone))).toList(),
                    () -> settings.consoleLogCap(), LOG_CAP_PERIOD_S);
        }
        return w;
    }

    public XenDriverSettings settings() {
        return settings;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public Capabilities capabilities() {
        Capabilities c = cachedCaps;
        if (c != null && System.nanoTime() - capsAt < CAPS_TTL.toNanos()) {
            return c;
        }
        c = XenCapabilities.of(settings, xl, image);
        cachedCaps = c;
        capsAt = System.nanoTime();
        return c;
    }

    // ---------------------------------------------------------------------------------------------------- start

    /** The config file the driver writes for a zone: in its folder, rewritten at every start. */
    public static Path configFile(ZoneContext zone) {
        return zone.directory().resolve("domain.cfg");
    }

    @Override
    public RuntimeRecord start(ZoneContext zone) throws DriverException {
        ZoneSpec spec = zone.spec();
        // Everything that can be said about the spec is said before xl is run even once.
        DomainConfig.checkSupported(spec);
        BootFiles boot = bootFiles(spec);
        PreparedResources res = zone.resources();
        DomainConfig.ImageDisks imageDisks = spec.image() != null ? imageDisks(zone) : null;
        DomainConfig.Backends backends = null;
        if (!res.nics().isEmpty() || !res.disks().isEmpty() || imageDisks != null) {
            try {
                backends = hotplug.install(XenDriver::hostLinkExists);
            } catch (IOException e) {
                throw new DriverException("zone " + spec.name() + ": cannot install the hotplug scripts: "
                        + e.getMessage(), e);
            }
        }
        String config = DomainConfig.render(zone.id(), spec, boot, settings.defaultType(), res, backends, imageDisks);
        List<KeeperConfig.Channel> plan = new ArrayList<>(ChannelKeepers.plan(zone, res));
        KeeperConfig.Channel agent = imageDisks != null ? ChannelKeepers.agent(zone) : null;
        if (agent != null) {
            plan.add(agent);
        }

        Optional<Domain> existing = domains().find(zone.id());
        if (existing.isPresent()) {
            throw new DriverException("zone " + zone.name() + " already runs as Xen domain " + existing.get().domid()
                    + (domains.containsKey(zone.id()) ? "" : ", which this driver has not adopted yet")
                    + "; stop it first");
        }
        Path cfg = configFile(zone);
        // A log an earlier run left over its cap (flooded while no driver watched) is cut before this run adds to it.
        LogCapper.capNow(consoleLog(zone), settings.consoleLogCap(), zone.name());
        try {
            Files.createDirectories(zone.directory());
            AtomicFiles.writeString(cfg, config);
        } catch (IOException e) {
            throw new DriverException("cannot write the domain config " + cfg + ": " + e.getMessage(), e);
        }
        try {
            xl.create(cfg);
        } catch (IOException e) {
            undo(zone, cfg);
            throw new DriverException("zone " + zone.name() + " did not start: " + e.getMessage(), e);
        }
        Domain d;
        try {
            d = domains().find(zone.id()).orElseThrow(() -> new IOException("xl create succeeded but no domain has uuid "
                    + zone.id()));
        } catch (IOException e) {
            undo(zone, cfg);
            throw new DriverException("zone " + zone.name() + " did not start: " + e.getMessage(), e);
        }
        String tagNote = domains().writeTag(d.domid(), zone.id());
        long keeper = 0;
        if (!plan.isEmpty()) {
            try {
                keeper = keepers.serve(zone.directory(), zone.id(), d.domid(), plan, ChannelKeepers.READY);
            } catch (IOException | RuntimeException e) {
                undo(zone, cfg);
                throw new DriverException("zone " + zone.name() + " did not start: its channels could not be served: "
                        + e.getMessage(), e);
            }
        }
        Map<String, String> p = new LinkedHashMap<>();
        p.put(R_DOMID, String.valueOf(d.domid()));
        p.put(R_UUID, zone.id().toString());
        p.put(R_DOMAIN, spec.name());
        p.put(R_TYPE, DomainConfig.guestType(spec, settings.defaultType()));
        p.put(R_CONFIG, cfg.toString());
        p.put(RuntimeRecord.CONSOLE_LOG, consoleLog(zone).toString());
        p.put(R_KERNEL, boot.kernel().toString());
        p.put(R_INITRAMFS, boot.ramdisk().toString());
        if (tagNote != null) {
            p.put("tag", tagNote);
        }
        if (keeper != 0) {
            p.put(R_KEEPER, String.valueOf(keeper));
        }
        if (agent != null) {
            p.put(AgentEndpoint.RUNTIME_KEY, AgentEndpoint.unix(agent.socket()).toString());
        }
        RuntimeRecord record = new RuntimeRecord(TYPE, p);
        zone.saveRuntime(record);
        ended.remove(zone.id());
        domains.put(zone.id(), new ZoneDomain(zone, d.domid(), spec.name(), ZoneState.RUNNING));
        watcher().wake();
        return record;
    }

    /**
     * An image zone's root: the image as the store has it now, and its workload (the image's config with the spec's
     * over it) written to the zone's folder, from where blkback serves it read-only.
     */
    private DomainConfig.ImageDisks imageDisks(ZoneContext zone) throws DriverException {
        ZoneSpec spec = zone.spec();
        ImageStore store = imageStore;
        if (store == null) {
            throw new DriverException("zone " + spec.name() + " runs image " + spec.image() + ", but no image store"
                    + " is running: the zone-images bundle provides it");
        }
        Path file = zone.directory().resolve("workload.zk");
        try {
            ImageInfo info = store.resolve(spec.image());
            byte[] workload = ImageWorkload.merge(info.config(), spec.workload()).encode();
            Files.createDirectories(zone.directory());
            ImageFiles.writeAtomically(file, out -> out.write(workload));
            return new DomainConfig.ImageDisks(info.rootfs(), file);
        } catch (ImageException | IllegalArgumentException e) {
            throw new DriverException("zone " + spec.name() + ": image " + spec.image() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DriverException("zone " + spec.name() + ": cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Takes back a failed start: a domain that did come up with this uuid, and the config file. */
    private void undo(ZoneContext zone, Path cfg) {
        try {
            Optional<Domain> d = xl.domainOf(zone.id());
            if (d.isPresent()) {
                xl.destroy(d.get().domid());
            }
        } catch (IOException ignored) {
            // the error the caller reports matters more
        }
        try {
            Files.deleteIfExists(cfg);
        } catch (IOException ignored) {
            // a stale config is rewritten at the next start
        }
    }

    /**
     * The spec's own kernel and initramfs, each confined to the boot folders by its real path (libxl runs as root and
     * reads what the config names, as QEMU does on KVM), else the operator's default kernel or the newest in /boot.
     */
    private BootFiles bootFiles(ZoneSpec spec) throws DriverException {
        try {
            Path kernel = spec.kernel() != null ? bootFolders.confine("kernel", spec.kernel())
                    : settings.defaultKernel() != null ? Path.of(settings.defaultKernel()) : image.newestKernel();
            if (!Files.isRegularFile(kernel)) {
                throw new DriverException("zone " + spec.name() + ": kernel " + kernel + " does not exist or is not a"
                        + " file");
            }
            if (spec.initramfs() != null) {
                return new BootFiles(kernel, bootFolders.confine("initramfs", spec.initramfs()), false);
            }
            ZoneImage.Initramfs ir = image.initramfs(kernel);
            return new BootFiles(kernel, ir.path(), true, ir.features(), ir.missing());
        } catch (IOException e) {
            throw new DriverException("zone image for " + spec.name() + ": " + e.getMessage(), e);
        }
    }

    /** Whether this host (the network namespace the appliance runs in) has an interface of that name. */
    static boolean hostLinkExists(String name) {
        return Files.exists(Path.of("/sys/class/net").resolve(name));
    }

    // ----------------------------------------------------------------------------------------------- adoption

    @Override
    public Adoption adopt(ZoneContext zone) {
        ZoneDomain known = domains.get(zone.id());
        if (known != null) {
            return Adoption.adopted(known.state());
        }
        Optional<RuntimeRecord> rec = zone.runtime();
        if (rec.isEmpty()) {
            return Adoption.refused("zone " + zone.name() + " has no runtime record, so no domain to adopt");
        }
        if (!TYPE.equals(rec.get().driver())) {
            return Adoption.refused("the runtime record was written by the " + rec.get().driver() + " driver");
        }
        Optional<Domain> found;
        try {
            found = domains().forAdoption(zone.id(), rec.get().get(R_DOMID));
        } catch (IOException e) {
            return Adoption.refused("cannot list Xen domains: " + e.getMessage());
        }
        if (found.isEmpty()) {
            return Adoption.refused("no Xen domain has zone " + zone.name() + "'s uuid " + zone.id()
                    + rec.get().get(R_DOMID).map(d -> "; domain " + d + " of its record is gone").orElse(""));
        }
        Domain d = found.get();
        try {
            Optional<String> tag = domains().readTag(d.domid());
            if (tag.isPresent() && !tag.get().equals(zone.id().toString())) {
                return Adoption.refused("domain " + d.domid() + " has uuid " + zone.id() + " but its xenstore tag "
                        + TAG + " says " + tag.get());
            }
        } catch (XenstoreException e) {
            // The uuid, which Xen holds and the guest cannot change, is proof enough on its own.
        }
        if (d.crashed()) {
            return Adoption.refused("domain " + d.domid() + " of zone " + zone.name() + " crashed; destroy it");
        }
        ZoneState state = d.zoneState();
        String recorded = rec.get().get(R_DOMID).orElse("");
        Map<String, String> p = new LinkedHashMap<>(rec.get().properties());
        if (!recorded.equals(String.valueOf(d.domid()))) {
            // Same uuid, new id (the domain was renamed or migrated): write down the id it has now.
            p.put(R_DOMID, String.valueOf(d.domid()));
        }
        if (!zone.spec().channels().isEmpty() || zone.spec().image() != null) {
            keepers.revive(zone, d.domid(), p);
        }
        if (!p.equals(rec.get().properties())) {
            zone.saveRuntime(new RuntimeRecord(TYPE, p));
        }
        ended.remove(zone.id());
        domains.put(zone.id(), new ZoneDomain(zone, d.domid(), d.name(), state));
        watcher().wake();
        return Adoption.adopted(state);
    }

    @Override
    public void release(ZoneContext zone) {
        domains.remove(zone.id());
    }

    /** The zone's domain as watched, adopting it first when this instance does not watch it yet. */
    private Optional<ZoneDomain> domainOf(ZoneContext zone) {
        ZoneDomain d = domains.get(zone.id());
        if (d == null && zone.runtime().isPresent() && adopt(zone).adopted()) {
            d = domains.get(zone.id());
        }
        return Optional.ofNullable(d);
    }

    // ------------------------------------------------------------------------------------------- stop and kill

    @Override
    public void stop(ZoneContext zone, Duration grace) throws DriverException {
        Optional<ZoneDomain> found = domainOf(zone);
        if (found.isEmpty()) {
            return; // no domain of this zone exists
        }
        ZoneDomain d = found.get();
        d.ask();
        try {
            xl.shutdown(d.domid);
        } catch (IOException e) {
            // A guest that cannot take the request (no PV drivers, already shutting down) is destroyed below.
        }
        if (!domains().awaitGone(d.domid, grace)) {
            domains().destroy(zone.name(), d.domid);
        }
        keepers.end(zone);
        finish(d, ZoneState.STOPPED);
    }

    @Override
    public void kill(ZoneContext zone) throws DriverException {
        ZoneDomain d = domains.get(zone.id());
        if (d != null) {
            d.ask();
            domains().destroy(zone.name(), d.domid);
            finish(d, ZoneState.STOPPED);
        } else {
            // Not watched: destroy only a domain proven to be this zone's by its uuid.
            Optional<Domain> found = domains().find(zone.id());
            if (found.isPresent()) {
                domains().destroy(zone.name(), found.get().domid());
            }
            ended.put(zone.id(), ZoneState.STOPPED);
        }
        keepers.end(zone);
        try {
            Files.deleteIfExists(configFile(zone));
        } catch (IOException ignored) {
            // rewritten at the next start
        }
    }

    private void finish(ZoneDomain d, ZoneState end) {
        domains.remove(d.id, d);
        ended.put(d.id, end);
    }

    /** The watcher saw a domain end or crash by itself. */
    private void domainEnded(ZoneDomain d, ZoneState state, String reason) {
        if (!domains.remove(d.id, d)) {
            return;
        }
        ended.put(d.id, state);
        keepers.end(d.zone);
        String why = reason;
        if (state == ZoneState.STOPPED && d.zone.spec().image() != null) {
            why += workloadExit(d.zone).map(code -> ": workload exited " + code).orElse("");
        }
        if (state == ZoneState.CRASHED) {
            List<String> console = FileTail.lastLines(consoleLog(d.zone), 15, 4096); // bounded, escaped
            why += "; last console lines: " + (console.isEmpty() ? "(none)" : String.join(" | ", console));
            try {
                xl.destroy(d.domid); // kept by on_crash=preserve only long enough to tell a crash from a power-off
            } catch (IOException ignored) {
                // it shows in xl list; the operator can destroy it
            }
        }
        report(d.zone, state, why);
    }

    /**
     * The exit status an image zone's init printed before it powered off. xenconsoled may write the guest's last
     * lines a moment after xenstored announced the domain's end, so the log is read again for up to a second.
     */
    private Optional<Integer> workloadExit(ZoneContext zone) {
        for (int i = 0;; i++) {
            Optional<Integer> code = ImageWorkload.exitStatus(zone.name(), FileTail.lastLines(consoleLog(zone), 15,
                    4096));
            if (code.isPresent() || i == 4) {
                return code;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return code;
            }
        }
    }

    private static void report(ZoneContext zone, ZoneState s, String why) {
        try {
            zone.report(s, why);
        } catch (RuntimeException ignored) {
            // zone-core's trouble; the watcher has nothing better to do with it
        }
    }

    @Override
    public ZoneState observe(ZoneContext zone) {
        ZoneDomain d = domains.get(zone.id());
        if (d != null) {
            return d.state();
        }
        try {
            Optional<Domain> found = xl.domainOf(zone.id());
            if (found.isPresent()) {
                return found.get().zoneState(); // runs, though no driver instance watches it yet
            }
        } catch (IOException e) {
            // fall through: what was last known
        }
        return ended.getOrDefault(zone.id(), zone.runtime().isPresent() ? ZoneState.STOPPED : ZoneState.DEFINED);
    }

    // ------------------------------------------------------------------------------------------ pause, console

    @Override
    public void pause(ZoneContext zone) throws DriverException {
        ZoneDomain d = requireRunning(zone, "pause");
        d.expectFlags(true);
        try {
            xl.pause(d.domid);
            d.state(ZoneState.PAUSED);
        } catch (IOException e) {
            throw new DriverException("cannot pause zone " + zone.name() + ": " + e.getMessage(), e);
        } finally {
            d.expectFlags(false);
        }
    }

    @Override
    public void resume(ZoneContext zone) throws DriverException {
        ZoneDomain d = requireRunning(zone, "resume");
        d.expectFlags(true);
        try {
            xl.unpause(d.domid);
            d.state(ZoneState.RUNNING);
        } catch (IOException e) {
            throw new DriverException("cannot resume zone " + zone.name() + ": " + e.getMessage(), e);
        } finally {
            d.expectFlags(false);
        }
    }

    private ZoneDomain requireRunning(ZoneContext zone, String what) throws DriverException {
        Optional<ZoneDomain> d = domainOf(zone);
        if (d.isEmpty()) {
            throw new DriverException("cannot " + what + " zone " + zone.name() + ": it does not run under this"
                    + " driver");
        }
        return d.get();
    }

    /** xenconsoled's log of the domain, named after the zone: it outlives the domain. */
    @Override
    public Path consoleLog(ZoneContext zone) {
        return settings.consoleLogDir().resolve("guest-" + zone.name() + ".log");
    }

    @Override
    public ByteChannel attachConsole(ZoneContext zone) throws DriverException {
        ZoneDomain d = requireRunning(zone, "attach to the console of");
        try {
            Process p = new ProcessBuilder(xl.consoleCommand(d.domid)).redirectError(
                    ProcessBuilder.Redirect.to(new File("/dev/null"))).start();
            return new ProcessChannel(p);
        } catch (IOException e) {
            throw new DriverException("cannot attach to the console of zone " + zone.name() + ": " + e.getMessage(),
                    e);
        }
    }

    /** How the driver finds and ends domains, as configured now. */
    private Domains domains() {
        return lookup;
    }

    /** The channel keeper's side in this driver (for tests). */
    ChannelKeepers keepers() {
        return keepers;
    }

    /** The domain id this instance watches for the zone, if any (for tools and tests). */
    public Optional<Integer> watchedDomid(UUID zone) {
        ZoneDomain d = domains.get(zone);
        return d == null ? Optional.empty() : Optional.of(d.domid);
    }

    /** CPU time and memory of a zone's domain, from plain {@code xl list} (zone-observe asks). */
    @Override
    public List<ZoneMetric> collect(ZoneInfo zone) {
        String domid = zone.runtime().get(R_DOMID);
        Xl x = xl;
        if (x == null || domid == null || !XenDriver.TYPE.equals(zone.driver()) || !domid.matches("[0-9]{1,9}")) {
            return List.of();
        }
        try {
            return XlStats.of(x.table(), Integer.parseInt(domid));
        } catch (IOException e) {
            return List.of();
        }
    }
}

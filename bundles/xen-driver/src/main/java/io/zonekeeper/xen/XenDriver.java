package io.zonekeeper.xen;

import java.io.File;
import java.io.IOException;
import java.nio.channels.ByteChannel;
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

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.ConsoleAccess;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.PausableDriver;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.StateLocation;
import io.zonekeeper.spi.ZoneContext;
import io.zonekeeper.xen.image.ZoneImage;
import io.zonekeeper.xen.vchan.KeeperConfig;
import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;
import io.zonekeeper.xen.xl.Domain;
import io.zonekeeper.xen.xl.DomainConfig;
import io.zonekeeper.xen.xl.DomainConfig.BootFiles;
import io.zonekeeper.xen.xl.HotplugScripts;
import io.zonekeeper.xen.xl.Xl;

/**
 * Runs each zone as a Xen domain, from dom0. A domain lives in the hypervisor and outlives this driver and the
 * JVM; the driver only creates, watches, stops and adopts. The domain's uuid is the zone's id, and a tag under
 * the domain's xenstore path ({@value #TAG}) repeats it; adoption takes a domain only when both agree.
 * Activation does nothing expensive: xl is first run when a zone starts or capabilities are asked for.
 */
@Component(service = HypervisorDriver.class, configurationPid = XenDriver.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = HypervisorDriver.TYPE_PROPERTY + "="
                + XenDriver.TYPE)
@Designate(ocd = XenDriverConfig.class)
public final class XenDriver implements HypervisorDriver, PausableDriver, ConsoleAccess {
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

    private static final Duration GONE_AFTER_DESTROY = Duration.ofSeconds(30);
    private static final Duration CAPS_TTL = Duration.ofSeconds(10);
    /** A JVM's start in dom0 under emulation took up to tens of seconds in the lab. */
    private static final Duration KEEPER_READY = Duration.ofSeconds(120);
    /** Longest Unix socket path (sun_path is 108 bytes with its terminating zero). */
    private static final int MAX_SOCKET_PATH = 107;

    /**
     * What the driver needs, for use as a plain object (tests, tools) as well as from configuration.
     *
     * @param stateDir       the state directory; the zone initramfs is cached in {@code <stateDir>/cache/xen}
     * @param xlBinary       the xl to run
     * @param defaultType    {@code pv} or {@code pvh}
     * @param defaultKernel  the kernel of zones that name none, or null for the newest /boot/vmlinuz-*
     * @param xenstoreSocket xenstored's socket
     * @param consoleLogDir  where xenconsoled writes guest-NAME.log
     * @param busybox        the static busybox of the default initramfs
     * @param modulesRoot    where the kernels' modules are ({@code /lib/modules}), for the initramfs's groups
     * @param vchanProxy     Xen's vchan-socket-proxy, which the initramfs carries for the zone's end of channels
     */
    public record Settings(Path stateDir, String xlBinary, String defaultType, String defaultKernel,
            Path xenstoreSocket, Path consoleLogDir, Path busybox, Path modulesRoot, Path vchanProxy) {
        public Settings {
            if (!DomainConfig.PV.equals(defaultType) && !DomainConfig.PVH.equals(defaultType)) {
                throw new IllegalArgumentException("defaultType must be pv or pvh, not '" + defaultType + "'");
            }
            defaultKernel = defaultKernel == null || defaultKernel.isBlank() ? null : defaultKernel;
        }

        public static Settings defaults(Path stateDir) {
            return new Settings(stateDir, "xl", DomainConfig.PV, null, XenstoreClient.DEFAULT_SOCKET,
                    Path.of("/var/log/xen/console"), Path.of("/bin/busybox"), Path.of("/lib/modules"),
                    ZoneImage.DEFAULT_VCHAN_PROXY);
        }
    }

    /** zone-core's state directory; images are cached in its cache folder. */
    @Reference
    private StateLocation stateLocation;
    private volatile Settings settings;
    private volatile Xl xl;
    private volatile ZoneImage image;
    private volatile HotplugScripts hotplug;
    private volatile ChannelKeepers keepers;
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
    public XenDriver(Settings settings, Xl.Runner runner) {
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
        configure(settingsOf(stateLocation.directory(), config));
    }

    @Modified
    void modified(XenDriverConfig config) {
        configure(settingsOf(stateLocation.directory(), config));
    }

    /** Stops watching every zone; the domains keep running, for the next driver instance to adopt. */
    @Deactivate
    public void deactivate() {
        DomainWatcher w = watcher;
        watcher = null;
        if (w != null) {
            w.stop();
        }
        domains.clear();
    }

    private synchronized void configure(Settings s) {
        settings = s;
        xl = new Xl(s.xlBinary(), runner);
        Path cache = s.stateDir().resolve("cache").resolve("xen");
        image = new ZoneImage(cache, Path.of("/boot"), s.modulesRoot(), s.busybox(), s.vchanProxy());
        hotplug = new HotplugScripts(cache.resolve("hotplug"));
        keepers = new ChannelKeepers(() -> keeperClasspath.apply(cache), s.xenstoreSocket());
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
        return w;
    }

    private static Settings settingsOf(Path state, XenDriverConfig c) {
        return new Settings(state, c.xlBinary(), c.defaultType(), c.defaultKernel(), Path.of(c.xenstoreSocket()),
                Path.of(c.consoleLogDir()), Path.of(c.busybox()), Path.of(c.modulesRoot()), Path.of(c.vchanProxy()));
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
        Capabilities c = cachedCaps;
        if (c != null && System.nanoTime() - capsAt < CAPS_TTL.toNanos()) {
            return c;
        }
        Map<String, String> d = new LinkedHashMap<>();
        int maxVcpus = Runtime.getRuntime().availableProcessors();
        long maxMemory = ZoneSpec.MAX_MEMORY_MIB;
        try {
            Map<String, String> info = xl.info();
            d.put("xen", info.getOrDefault("xen_version", "unknown"));
            d.put("xen.caps", info.getOrDefault("xen_caps", ""));
            maxVcpus = parseInt(info.get("nr_cpus"), maxVcpus);
            maxMemory = parseInt(info.get("free_memory"), (int) maxMemory);
            d.put("freeMemoryMiB", String.valueOf(maxMemory));
        } catch (IOException e) {
            // Not in dom0, or no Xen at all: room for nothing, so zone-core never picks this driver for a zone
            // that names no hypervisor, and driver:info says why.
            d.put("xen", "not usable here: " + e.getMessage());
            maxVcpus = 0;
            maxMemory = 0;
        }
        d.put("guestTypes", "pv (default: " + settings.defaultType() + "), pvh with the label "
                + DomainConfig.TYPE_LABEL + "=pvh");
        String kernel = settings.defaultKernel();
        if (kernel == null) {
            try {
                kernel = image.newestKernel().toString();
            } catch (IOException e) {
                kernel = "none: " + e.getMessage();
            }
        }
        d.put("defaultKernel", kernel);
        d.put("console", "xenconsoled log " + settings.consoleLogDir() + "/guest-NAME.log; attach runs xl console");
        d.put("differsFromKvm", "zones are Xen domains, not host processes (no pid; the domid is in the runtime"
                + " record); adoption proves the domain uuid and the xenstore tag; the console log is"
                + " xenconsoled's; networks are netback vifs on the network's bridge (named like the appliance's"
                + " taps, made by netback), disks are raw images on blkback (no qcow2), in the guest xvda, xvdb, ...;"
                + " the guest kernel must be Xen-aware");
        d.put("imageCache", image.cacheDir().toString());
        // OWN_HOST_INTERFACE: netback makes each zone's vif, so the network provider makes no tap for it.
        EnumSet<Feature> features = EnumSet.of(Feature.PAUSE, Feature.CONSOLE, Feature.ADOPTION, Feature.NETWORK,
                Feature.OWN_HOST_INTERFACE, Feature.DISK, Feature.PCI_PASSTHROUGH);
        d.put("devices", "pci: pci=[...] of functions the pci device backend put on pciback (xl"
                + " pci-assignable-add); no other device types");
        Optional<Path> vchan = libxenvchan();
        if (vchan.isPresent() && Files.isRegularFile(settings.vchanProxy())) {
            features.add(Feature.CHANNELS);
            d.put("channels", "vchan: in the zone \"zk-channel NAME\" (Xen's vchan-socket-proxy as the vchan server)"
                    + " joins its stdin and stdout to the channel; on the host <zone>/channels/NAME.sock, served by a"
                    + " channel keeper process per zone (libxenvchan through jnr-ffi), which outlives the driver;"
                    + " zone-to-zone channels meet at the broker's socket through both keepers");
        } else {
            d.put("channels", "none: " + (vchan.isEmpty() ? "no " + io.zonekeeper.xen.vchan.Libxenvchan.LIBRARY
                    + " (libxenmisc4.17)" : "no " + settings.vchanProxy() + " (xen-utils-4.17)"));
        }
        c = new Capabilities(features, maxVcpus, maxMemory, d);
        cachedCaps = c;
        capsAt = System.nanoTime();
        return c;
    }

    private static int parseInt(String s, int otherwise) {
        try {
            return s == null ? otherwise : Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return otherwise;
        }
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
        DomainConfig.Backends backends = null;
        if (!res.nics().isEmpty() || !res.disks().isEmpty()) {
            try {
                backends = hotplug.install(XenDriver::hostLinkExists);
            } catch (IOException e) {
                throw new DriverException("zone " + spec.name() + ": cannot install the hotplug scripts: "
                        + e.getMessage(), e);
            }
        }
        String config = DomainConfig.render(zone.id(), spec, boot, settings.defaultType(), res, backends);
        List<KeeperConfig.Channel> plan = channelPlan(zone, res);

        Optional<Domain> existing = findDomain(zone.id());
        if (existing.isPresent()) {
            throw new DriverException("zone " + zone.name() + " already runs as Xen domain " + existing.get().domid()
                    + (domains.containsKey(zone.id()) ? "" : ", which this driver has not adopted yet")
                    + "; stop it first");
        }
        Path cfg = configFile(zone);
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
            d = findDomain(zone.id()).orElseThrow(() -> new IOException("xl create succeeded but no domain has uuid "
                    + zone.id()));
        } catch (IOException e) {
            undo(zone, cfg);
            throw new DriverException("zone " + zone.name() + " did not start: " + e.getMessage(), e);
        }
        String tagNote = writeTag(d.domid(), zone.id());
        long keeper = 0;
        if (!plan.isEmpty()) {
            stopKeeper(zone); // one left from the zone's last run, if its domain's end has not reached it yet
            try {
                keeper = startKeeper(zone, d.domid(), plan);
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
        RuntimeRecord record = new RuntimeRecord(TYPE, p);
        zone.saveRuntime(record);
        ended.remove(zone.id());
        domains.put(zone.id(), new ZoneDomain(zone, d.domid(), spec.name(), ZoneState.RUNNING));
        watcher().wake();
        return record;
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

    private BootFiles bootFiles(ZoneSpec spec) throws DriverException {
        try {
            String k = spec.kernel() != null ? spec.kernel() : settings.defaultKernel();
            Path kernel = k != null ? Path.of(k) : image.newestKernel();
            if (!Files.isRegularFile(kernel)) {
                throw new DriverException("zone " + spec.name() + ": kernel " + kernel + " does not exist or is not a"
                        + " file");
            }
            if (spec.initramfs() != null) {
                Path r = Path.of(spec.initramfs());
                if (!Files.isRegularFile(r)) {
                    throw new DriverException("zone " + spec.name() + ": initramfs " + r + " does not exist or is"
                            + " not a file");
                }
                return new BootFiles(kernel, r, false);
            }
            ZoneImage.Initramfs ir = image.initramfs(kernel);
            return new BootFiles(kernel, ir.path(), true, ir.features(), ir.missing());
        } catch (IOException e) {
            throw new DriverException("zone image for " + spec.name() + ": " + e.getMessage(), e);
        }
    }

    static Optional<Path> libxenvchan() {
        return io.zonekeeper.xen.image.SharedLibraries.HOST_FOLDERS.stream()
                .map(f -> f.resolve(io.zonekeeper.xen.vchan.Libxenvchan.LIBRARY)).filter(Files::isRegularFile)
                .findFirst();
    }

    /** The host ends of the zone's channels, in spec order: the broker's rendezvous, else a socket of its own. */
    static List<KeeperConfig.Channel> channelPlan(ZoneContext zone, PreparedResources res) throws DriverException {
        List<KeeperConfig.Channel> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < zone.spec().channels().size(); i++) {
            io.zonekeeper.api.ChannelSpec c = zone.spec().channels().get(i);
            io.zonekeeper.spi.PreparedChannel pc = res.channel(c.name());
            KeeperConfig.Channel k = pc != null ? new KeeperConfig.Channel(c.name(), Path.of(pc.socket()), pc.listens())
                    : new KeeperConfig.Channel(c.name(), ChannelKeepers.dir(zone.directory()).resolve(c.name()
                            + ".sock"), true);
            int len = k.socket().toString().getBytes(StandardCharsets.UTF_8).length;
            if (len > MAX_SOCKET_PATH) {
                problems.add("channels[" + i + "]: its socket " + k.socket() + " would be " + len + " bytes, but a Unix"
                        + " socket path may have at most " + MAX_SOCKET_PATH + "; use a shorter state directory");
            }
            out.add(k);
        }
        if (!problems.isEmpty()) {
            throw new DriverException("zone " + zone.name() + " cannot run on the xen driver: "
                    + String.join("; ", problems));
        }
        return out;
    }

    /** Starts the zone's channel keeper for domain {@code domid}; its pid. */
    private long startKeeper(ZoneContext zone, int domid, List<KeeperConfig.Channel> plan) throws IOException {
        KeeperConfig kc = new KeeperConfig(zone.id(), domid, KeeperConfig.xsBase(domid), settings.xenstoreSocket(),
                plan);
        return keepers.start(zone.directory(), kc, KEEPER_READY);
    }

    /** Ends the zone's channel keeper, if its record names one (it also ends by itself once the domain is gone). */
    private static void stopKeeper(ZoneContext zone) {
        zone.runtime().flatMap(r -> r.get(R_KEEPER)).ifPresent(pid -> {
            try {
                ChannelKeepers.stop(Long.parseLong(pid), zone.id());
            } catch (NumberFormatException ignored) {
                // not a pid: nothing of ours to end
            }
        });
    }

    /** Whether this host (the network namespace the appliance runs in) has an interface of that name. */
    static boolean hostLinkExists(String name) {
        return Files.exists(Path.of("/sys/class/net").resolve(name));
    }

    /**
     * Writes the zone tag from dom0 and makes dom0 its owner, the guest a reader. Returns null when done, or why
     * not: the tag is a second proof next to the uuid, so its absence is noted rather than fatal.
     */
    private String writeTag(int domid, UUID id) {
        String path = "/local/domain/" + domid + "/" + TAG;
        try (XenstoreClient xs = XenstoreClient.connect(settings.xenstoreSocket(), Duration.ofSeconds(5), null)) {
            xs.write(path, id.toString());
            xs.setPerms(path, "n0", "r" + domid);
            return null;
        } catch (XenstoreException e) {
            return "not written: " + e.getMessage();
        }
    }

    /** The tag of a domain, empty when there is none; throws when xenstore cannot be asked. */
    private Optional<String> readTag(int domid) throws XenstoreException {
        try (XenstoreClient xs = XenstoreClient.connect(settings.xenstoreSocket(), Duration.ofSeconds(5), null)) {
            return xs.read("/local/domain/" + domid + "/" + TAG);
        }
    }

    private Optional<Domain> findDomain(UUID id) throws DriverException {
        try {
            return xl.domainOf(id);
        } catch (IOException e) {
            throw new DriverException("cannot list Xen domains: " + e.getMessage()
                    + " (the xen driver runs in dom0, with the Xen toolstack started)", e);
        }
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
            found = domainForAdoption(zone.id(), rec.get().get(R_DOMID));
        } catch (IOException e) {
            return Adoption.refused("cannot list Xen domains: " + e.getMessage());
        }
        if (found.isEmpty()) {
            return Adoption.refused("no Xen domain has zone " + zone.name() + "'s uuid " + zone.id()
                    + rec.get().get(R_DOMID).map(d -> "; domain " + d + " of its record is gone").orElse(""));
        }
        Domain d = found.get();
        try {
            Optional<String> tag = readTag(d.domid());
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
        if (!zone.spec().channels().isEmpty()) {
            reviveKeeper(zone, d.domid(), p);
        }
        if (!p.equals(rec.get().properties())) {
            zone.saveRuntime(new RuntimeRecord(TYPE, p));
        }
        ended.remove(zone.id());
        domains.put(zone.id(), new ZoneDomain(zone, d.domid(), d.name(), state));
        watcher().wake();
        return Adoption.adopted(state);
    }

    /**
     * The zone's domain, found without {@code xl list -l} where xenstored answers: a domain's {@code vm} node, which
     * libxl writes from the domain's uuid when it creates it and only dom0 may change, must name
     * {@code /vm/<zone id>}; the recorded domid is looked at first, then every domain. Its state flags come from one
     * plain {@code xl list}, which prints no configs. This is what an upgrade does for every running zone, inside the
     * window in which the driver is away. Without xenstored, or when xenstore finds no such domain, {@code xl list
     * -l} decides, as before.
     */
    private Optional<Domain> domainForAdoption(UUID id, Optional<String> recorded) throws IOException {
        Optional<Domain> viaXenstore;
        try (XenstoreClient xs = XenstoreClient.connect(settings.xenstoreSocket(), Duration.ofSeconds(5), null)) {
            viaXenstore = domainInXenstore(xs, id, recorded);
        } catch (XenstoreException e) {
            return xl.domainOf(id);
        }
        if (viaXenstore.isPresent()) {
            String flags = xl.flags().get(viaXenstore.get().domid());
            if (flags != null) {
                return Optional.of(viaXenstore.get().withFlags(flags));
            }
        }
        return xl.domainOf(id); // not in xenstore, or not in xl list (on its way out): the slow, sure way
    }

    /** The domain whose {@code vm} node names the zone, by xenstore alone; its flags are left unknown. */
    static Optional<Domain> domainInXenstore(XenstoreClient xs, UUID id, Optional<String> recorded)
            throws XenstoreException {
        Optional<String> first = recorded.filter(d -> d.matches("\\d+"));
        if (first.isPresent()) {
            Optional<Domain> d = ifItIsTheZones(xs, first.get(), id);
            if (d.isPresent()) {
                return d;
            }
        }
        for (String domid : xs.directory("/local/domain")) {
            if (domid.matches("\\d+") && !first.filter(domid::equals).isPresent()) {
                Optional<Domain> d = ifItIsTheZones(xs, domid, id);
                if (d.isPresent()) {
                    return d;
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<Domain> ifItIsTheZones(XenstoreClient xs, String domid, UUID id)
            throws XenstoreException {
        String home = "/local/domain/" + domid;
        if (xs.read(home + "/vm").filter(("/vm/" + id)::equals).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Domain(Integer.parseInt(domid), xs.read(home + "/name").orElse(""), Optional.of(id),
                null, null));
    }

    /**
     * The channel keeper outlives drivers, so an adopted zone normally has its own still running. One that is gone
     * (killed by hand, a dom0 reboot of the toolstack) is started again from the zone's keeper config, for the
     * domain the zone has now; a keeper that cannot start leaves a note, not a refusal, since the domain is fine.
     */
    private void reviveKeeper(ZoneContext zone, int domid, Map<String, String> record) {
        String pid = record.get(R_KEEPER);
        try {
            if (pid != null && ChannelKeepers.isKeeper(Long.parseLong(pid), zone.id())) {
                return;
            }
        } catch (NumberFormatException ignored) {
            // started again below
        }
        try {
            Path file = ChannelKeepers.dir(zone.directory()).resolve(ChannelKeepers.CONFIG);
            KeeperConfig old = KeeperConfig.read(file);
            KeeperConfig now = new KeeperConfig(zone.id(), domid, KeeperConfig.xsBase(domid), settings.xenstoreSocket(),
                    old.channels());
            record.put(R_KEEPER, String.valueOf(keepers.start(zone.directory(), now, KEEPER_READY)));
            record.remove("channelKeeperNote");
        } catch (IOException | RuntimeException e) {
            record.remove(R_KEEPER);
            record.put("channelKeeperNote", "not running: " + e.getMessage());
        }
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
        if (!awaitGone(d.domid, grace)) {
            destroy(zone, d.domid);
        }
        stopKeeper(zone);
        finish(d, ZoneState.STOPPED);
    }

    @Override
    public void kill(ZoneContext zone) throws DriverException {
        ZoneDomain d = domains.get(zone.id());
        if (d != null) {
            d.ask();
            destroy(zone, d.domid);
            finish(d, ZoneState.STOPPED);
        } else {
            // Not watched: destroy only a domain proven to be this zone's by its uuid.
            Optional<Domain> found = findDomain(zone.id());
            if (found.isPresent()) {
                destroy(zone, found.get().domid());
            }
            ended.put(zone.id(), ZoneState.STOPPED);
        }
        stopKeeper(zone);
        try {
            Files.deleteIfExists(configFile(zone));
        } catch (IOException ignored) {
            // rewritten at the next start
        }
    }

    private void destroy(ZoneContext zone, int domid) throws DriverException {
        try {
            xl.destroy(domid);
        } catch (IOException e) {
            if (domainExists(domid)) {
                throw new DriverException("cannot destroy domain " + domid + " of zone " + zone.name() + ": "
                        + e.getMessage(), e);
            }
        }
        if (!awaitGone(domid, GONE_AFTER_DESTROY)) {
            throw new DriverException("domain " + domid + " of zone " + zone.name() + " still exists "
                    + GONE_AFTER_DESTROY.toSeconds() + " s after xl destroy; check xl list on the host");
        }
    }

    /**
     * Waits until the domain is gone. xenstore answers quickly and without a fork; xl is asked when xenstore
     * cannot be. A domain left in the shutdown state (no xl daemon to carry out on_poweroff) counts as gone once
     * destroyed, so it is destroyed here.
     */
    private boolean awaitGone(int domid, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        do {
            if (!domainExists(domid)) {
                return true;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        } while (System.nanoTime() < deadline);
        return !domainExists(domid);
    }

    private boolean domainExists(int domid) {
        try (XenstoreClient xs = XenstoreClient.connect(settings.xenstoreSocket(), Duration.ofSeconds(5), null)) {
            return xs.exists("/local/domain/" + domid);
        } catch (XenstoreException e) {
            try {
                String f = xl.flags().get(domid);
                return f != null;
            } catch (IOException x) {
                return true; // nothing known: assume it still exists
            }
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
        stopKeeper(d.zone);
        String why = reason;
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

    /** The domain id this instance watches for the zone, if any (for tools and tests). */
    public Optional<Integer> watchedDomid(UUID zone) {
        ZoneDomain d = domains.get(zone);
        return d == null ? Optional.empty() : Optional.of(d.domid);
    }
}

package io.zonekeeper.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Version;
import org.osgi.framework.VersionRange;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.CodePolicy;
import io.zonekeeper.api.ZoneException;

/**
 * Replaces a driver bundle in place while its zones run. The new revision must adopt every running zone of the
 * driver, by proof; if it fails to activate or to adopt one, the previous jar is put back and the zones stay
 * with it. Only the driver bundle is updated: nothing is refreshed, so zone-api, zone-core and other drivers
 * keep their class loaders (a driver bundle exports nothing, so nothing depends on it).
 *
 * <p>The jars are kept under {@code <state>/drivers/<symbolic name>/}: {@code current.jar} (what runs) and
 * {@code previous.jar} (what {@code driver:rollback} goes back to).
 */
public final class DriverUpgrader {
    static final List<String> API_PACKAGES = List.of("io.zonekeeper.api", "io.zonekeeper.spi");
    /** The private copy of the jar being upgraded to, under the drivers folder. */
    static final String INCOMING = "incoming.jar.tmp";
    private final BundleContext context;
    private final ZoneRegistry registry;
    private final Path driversDir;
    private final Path mavenRepository;
    private final Duration timeout;

    /** What an upgrade or a rollback did. */
    public record Outcome(String type, String from, String to, long unavailableMillis, List<String> zones) {
        public String describe() {
            return "driver " + type + ": " + from + " -> " + to + ", " + zones.size() + " zone(s) adopted, "
                    + unavailableMillis + " ms unavailable";
        }
    }

    /** An upgrader of the registry's drivers; {@code timeout} bounds the wait for a new driver to register. */
    public DriverUpgrader(BundleContext context, ZoneRegistry registry, Duration timeout) {
        this.context = context;
        this.registry = registry;
        this.driversDir = registry.stateDir().resolve("drivers");
        this.mavenRepository = registry.driverRepository();
        this.timeout = timeout;
    }

    /** Replaces driver {@code type}'s bundle with {@code source} while its zones run. */
    public Outcome upgrade(String type, String source, Consumer<String> progress) throws ZoneException {
        synchronized (registry.upgrades) {
            return upgradeAlone(type, source, progress);
        }
    }

    /** Goes back to the driver version before the last upgrade. */
    public Outcome rollback(String type, Consumer<String> progress) throws ZoneException {
        synchronized (registry.upgrades) {
            return rollbackAlone(type, progress);
        }
    }

    private Outcome upgradeAlone(String type, String source, Consumer<String> progress) throws ZoneException {
        DriverBinding current = current(type);
        Bundle bundle = bundleOf(current);
        Path offered = resolve(source);
        Path jar = driversDir.resolve(INCOMING);
        try {
            admit(offered, jar);
            return upgradeFrom(type, current, bundle, offered, jar, progress);
        } finally {
            try {
                Files.deleteIfExists(jar);
            } catch (IOException ignored) {
                // A stale private copy; the next upgrade replaces it.
            }
        }
    }

    /**
     * Copies the offered jar where only the appliance writes and checks the code policy on that copy, the bytes
     * that are then installed: a jar swapped after the check cannot slip in.
     */
    private void admit(Path offered, Path copy) throws ZoneException {
        CodePolicy policy;
        try {
            policy = CodePolicy.of(context::getProperty);
        } catch (IOException e) {
            throw new ZoneException("cannot check the signature of " + offered + ": " + e.getMessage()
                    + "; nothing was changed", e);
        }
        try {
            Files.createDirectories(driversDir);
            Files.copy(offered, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new ZoneException("cannot copy " + offered + " into " + driversDir + ": " + e.getMessage()
                    + "; nothing was changed", e);
        }
        try {
            policy.check(copy);
        } catch (CodePolicy.Refused e) {
            throw new ZoneException(e.getMessage().replace(copy.toString(), offered.toString())
                    + "; nothing was changed (" + policy.describe() + ")");
        }
    }

    private Outcome upgradeFrom(String type, DriverBinding current, Bundle bundle, Path offered, Path jar,
            Consumer<String> progress) throws ZoneException {
        Manifest mf;
        try {
            mf = manifest(jar);
        } catch (ZoneException e) {
            throw new ZoneException(e.getMessage().replace(jar.toString(), offered.toString()), e);
        }
        String bsn = symbolicName(mf);
        if (!bundle.getSymbolicName().equals(bsn)) {
            throw new ZoneException(offered + " is bundle " + bsn + ", not " + bundle.getSymbolicName()
                    + " which provides driver " + type + "; nothing was changed");
        }
        Version newVersion = Version.parseVersion(mf.getMainAttributes().getValue("Bundle-Version"));
        checkImports(offered, mf);
        Path dir = driversDir.resolve(bsn);
        Path currentJar = dir.resolve("current.jar");
        Path previousJar = dir.resolve("previous.jar");
        try {
            Files.createDirectories(dir);
            if (!Files.exists(currentJar)) {
                Path installed = installedJar(bundle);
                copyDurably(installed, currentJar);
            }
            copyDurably(currentJar, dir.resolve("previous.jar.tmp"));
        } catch (IOException e) {
            throw new ZoneException("cannot keep a copy of the running driver for a rollback: " + e.getMessage()
                    + "; nothing was changed", e);
        }
        progress.accept("upgrading driver " + type + " from " + current.describe() + " to " + bsn + " "
                + newVersion + " (" + registry.list().stream().filter(z -> type.equals(z.driver())
                        && z.state().isActive()).count() + " running zones stay up)");
        Outcome o;
        try {
            o = swap(type, bundle, jar, newVersion, current.version, dir.resolve("previous.jar.tmp"), progress);
        } catch (ZoneException e) {
            try {
                Files.deleteIfExists(dir.resolve("previous.jar.tmp"));
            } catch (IOException ignored) {
                // Only a stale copy; the next upgrade overwrites it.
            }
            throw e;
        }
        try {
            AtomicFiles.rename(dir.resolve("previous.jar.tmp"), previousJar);
            copyDurably(jar, currentJar);
        } catch (IOException e) {
            progress.accept("warning: the upgrade worked but the rollback copy could not be kept: " + e.getMessage());
        }
        return o;
    }

    private Outcome rollbackAlone(String type, Consumer<String> progress) throws ZoneException {
        DriverBinding current = current(type);
        Bundle bundle = bundleOf(current);
        Path dir = driversDir.resolve(bundle.getSymbolicName());
        Path previousJar = dir.resolve("previous.jar");
        if (!Files.exists(previousJar)) {
            throw new ZoneException("driver " + type + " has not been upgraded here, so there is no earlier "
                    + "version to go back to");
        }
        Manifest mf = manifest(previousJar);
        Version version = Version.parseVersion(mf.getMainAttributes().getValue("Bundle-Version"));
        progress.accept("rolling driver " + type + " back from " + current.describe() + " to " + version);
        Outcome o = swap(type, bundle, previousJar, version, current.version, dir.resolve("current.jar"),
                progress);
        try {
            Path tmp = dir.resolve("swap.tmp");
            copyDurably(dir.resolve("current.jar"), tmp);
            AtomicFiles.rename(previousJar, dir.resolve("current.jar"));
            AtomicFiles.rename(tmp, previousJar);
        } catch (IOException e) {
            progress.accept("warning: rolled back, but the kept jars could not be swapped: " + e.getMessage());
        }
        return o;
    }

    /** The kept jars survive a power loss whole: each copy is written through a temp file and fsynced (host-io). */
    private static void copyDurably(Path from, Path to) throws IOException {
        AtomicFiles.write(to, out -> Files.copy(from, out));
    }

    /**
     * Replaces {@code bundle} by {@code jar}: beside it where the framework lets a second bundle of the same name in
     * ({@link #swapBeside}), else in place ({@link #swapInPlace}).
     */
    private Outcome swap(String type, Bundle bundle, Path jar, Version newVersion, String oldVersion, Path backup,
            Consumer<String> progress) throws ZoneException {
        if (!watchedByFileInstall(bundle)) {
            long prepared = System.nanoTime();
            Bundle fresh;
            try (InputStream in = Files.newInputStream(jar)) {
                fresh = context.installBundle(BESIDE_LOCATION + bundle.getSymbolicName() + "/" + newVersion + "/"
                        + System.nanoTime(), in);
            } catch (BundleException e) {
                if (e.getType() != BundleException.DUPLICATE_BUNDLE_ERROR) {
                    throw new ZoneException("cannot install " + bundle.getSymbolicName() + " " + newVersion + ": "
                            + e.getMessage() + "; nothing was changed", e);
                }
                // The same name and version as an installed bundle (the framework allows one): in place.
                fresh = null;
            } catch (IOException e) {
                throw new ZoneException("cannot read " + jar + ": " + e.getMessage() + "; nothing was changed", e);
            }
            if (fresh != null) {
                return swapBeside(type, bundle, fresh, newVersion, oldVersion, prepared, progress);
            }
        }
        return swapInPlace(type, bundle, jar, newVersion, oldVersion, backup, progress);
    }

    /** The location prefix of a driver bundle that an upgrade installed beside the running one. */
    static final String BESIDE_LOCATION = "zonekeeper-driver:";

    /**
     * Whether FileInstall installed the bundle (from a folder it watches): it must stay the bundle FileInstall
     * knows, or FileInstall would install its jar again, so it is updated in place.
     */
    private boolean watchedByFileInstall(Bundle bundle) {
        String dirs = context.getProperty("felix.fileinstall.dir");
        String location = bundle.getLocation();
        if (dirs == null || !location.startsWith("file:")) {
            return false;
        }
        Path file;
        try {
            file = Path.of(java.net.URI.create(location)).toAbsolutePath().normalize();
        } catch (RuntimeException e) {
            return false;
        }
        for (String dir : dirs.split(",")) {
            if (!dir.isBlank() && file.startsWith(Path.of(dir.trim()).toAbsolutePath().normalize())) {
                return true;
            }
        }
        return false;
    }

    /**
     * The new bundle is installed, resolved and started beside the running one, its driver bound but held back
     * (staged) while the running driver still serves every zone: none of that is unavailable time, and a new
     * driver that does not resolve, start or register is refused before anything changed. The switch: the new driver
     * becomes the active one, and each zone is let go by the running driver and adopted by the new one by proof,
     * all zones at once. That is the unavailable window: from the switch until every zone is adopted. Each zone's
     * record is stored after the window (see {@link ZoneRegistry#adoptAllNow(String, java.util.Collection)}), and
     * then the previous bundle, which holds no zone any more, is stopped and uninstalled. If one zone is refused,
     * the previous driver, still started, becomes the active one again and takes the zones back, and the new bundle
     * is stopped.
     */
    private Outcome swapBeside(String type, Bundle old, Bundle fresh, Version newVersion, String oldVersion,
            long preparing, Consumer<String> progress) throws ZoneException {
        registry.beginTrial(type);
        registry.stage(fresh.getBundleId());
        registry.lifecycleEvents().upgrade("UPGRADE_BEGAN", type, oldVersion, newVersion.toString(), "");
        boolean keepFresh = false;
        try {
            String failure = null;
            if (!context.getBundle(0).adapt(FrameworkWiring.class).resolveBundles(List.of(fresh))) {
                failure = "the new bundle does not resolve: " + BundleDiagnosis.unresolved(context).stream()
                        .filter(u -> u.id() == fresh.getBundleId()).flatMap(u -> u.missing().stream())
                        .collect(java.util.stream.Collectors.joining("; "));
            } else {
                try {
                    fresh.start();
                } catch (BundleException | RuntimeException e) {
                    failure = "the new bundle did not start: " + e.getMessage();
                }
            }
            DriverBinding staged = failure == null ? registry.awaitBound(type, fresh.getBundleId(), timeout) : null;
            if (failure == null && staged == null) {
                failure = "the new bundle registered no '" + type + "' driver within " + timeout.toSeconds()
                        + " s (its component may have failed to activate; see the log)";
            }
            int preloaded = failure == null ? preload(fresh, staged.driver.getClass()) : 0;
            if (failure != null) {
                registry.lifecycleEvents().upgrade("UPGRADE_ROLLED_BACK", type, newVersion.toString(), oldVersion,
                        failure);
                throw new ZoneException("upgrade of driver " + type + " to " + newVersion + " was rolled back "
                        + "before the switch: " + failure + "; the zones stayed with " + oldVersion + " throughout");
            }
            long prepared = System.nanoTime();
            // The switch: the new driver becomes the active one while the running bundle stays started; each zone
            // is let go by the running driver and adopted by the new one under the zone's own lock
            // (ZoneReconciler.ensureAttached), all zones at once. The running bundle stops after the window, when it
            // holds no zone: its stop (the framework's and its components' work) is no longer inside it.
            long t0 = System.nanoTime();
            registry.switchDrivers(old.getBundleId(), fresh.getBundleId());
            List<Runnable> later = java.util.Collections.synchronizedList(new ArrayList<>());
            Map<String, String> refused = Map.of();
            DriverBinding active = registry.activeDriver(type);
            if (active == null || active.bundleId != fresh.getBundleId()) {
                failure = "the new driver is not the active '" + type + "' driver after the switch ("
                        + (active == null ? "none is" : active.describe() + " is") + ")";
            } else {
                refused = registry.adoptAllNow(type, later);
                if (!refused.isEmpty()) {
                    failure = "the new driver did not adopt " + refused;
                }
            }
            long end = System.nanoTime();
            if (failure == null) {
                keepFresh = true;
                long window = (end - t0) / 1_000_000;
                registry.finishAdoptions(later);
                long saved = System.nanoTime();
                try {
                    old.stop();
                } catch (BundleException | RuntimeException e) {
                    progress.accept("warning: the previous bundle " + old.getSymbolicName() + " " + old.getVersion()
                            + " did not stop cleanly: " + e.getMessage());
                }
                long oldStopped = System.nanoTime();
                uninstallQuietly(old, progress);
                registry.unstage(old.getBundleId());
                registry.reconcileLater(type);
                List<String> zones = zonesOf(type);
                progress.accept("driver " + type + " is now " + newVersion + "; adopted " + zones.size()
                        + " zone(s) " + zones + "; control plane unavailable for " + window + " ms (each zone let go"
                        + " by the previous driver and adopted by the new one, all at once; before the switch the new"
                        + " bundle was installed, started and bound beside the running one, and " + preloaded
                        + " of its classes loaded, in " + (prepared - preparing) / 1_000_000 + " ms; after it the"
                        + " zone records were stored in " + (saved - end) / 1_000_000 + " ms and the previous bundle"
                        + " stopped in " + (oldStopped - saved) / 1_000_000 + " ms)");
                registry.lifecycleEvents().upgrade("UPGRADE_FINISHED", type, oldVersion, newVersion.toString(),
                        "adopted " + zones);
                return new Outcome(type, oldVersion, newVersion.toString(), window, zones);
            }
            progress.accept("upgrade failed: " + failure + "; putting " + oldVersion + " back");
            // The previous driver, still started, becomes the active one again; the new bundle stops (its driver lets
            // go of the zones it adopted), and the previous driver takes every zone back.
            registry.switchDrivers(fresh.getBundleId(), old.getBundleId());
            try {
                fresh.stop();
            } catch (BundleException | RuntimeException e) {
                // Its driver is held back (staged) in any case; it is uninstalled below.
            }
            Map<String, String> lost = registry.adoptAllNow(type);
            if (old.getState() != Bundle.ACTIVE) {
                throw new ZoneException("upgrade of driver " + type + " failed (" + failure + ") and the previous "
                        + "bundle is no longer active (" + old.getState() + "). Zones keep running; install a "
                        + "working driver with driver:upgrade");
            }
            registry.lifecycleEvents().upgrade("UPGRADE_ROLLED_BACK", type, newVersion.toString(), oldVersion, failure);
            throw new ZoneException("upgrade of driver " + type + " to " + newVersion + " was rolled back: "
                    + failure + (lost.isEmpty() ? "; the zones are managed by " + oldVersion + " again"
                            : "; after the rollback these zones are not adopted: " + lost));
        } finally {
            registry.endTrial(type);
            if (!keepFresh) {
                uninstallQuietly(fresh, progress);
            }
            registry.unstage(fresh.getBundleId());
        }
    }

    /**
     * Loads (without initializing) the new driver's own classes, those of its bundle under the first two segments of
     * its package, before the switch: otherwise the first adoptions, inside the window, define them one by one in
     * the fresh class loader. Embedded libraries elsewhere in the bundle are left alone. Returns how many loaded.
     */
    static int preload(Bundle fresh, Class<?> driverClass) {
        BundleWiring wiring = fresh.adapt(BundleWiring.class);
        String[] segments = driverClass.getPackageName().split("\\.");
        if (wiring == null || segments.length < 2 || driverClass.getClassLoader() != wiring.getClassLoader()) {
            return 0;
        }
        int loaded = 0;
        for (String resource : wiring.listResources("/" + segments[0] + "/" + segments[1], "*.class",
                BundleWiring.LISTRESOURCES_RECURSE | BundleWiring.LISTRESOURCES_LOCAL)) {
            String name = resource.substring(0, resource.length() - ".class".length()).replace('/', '.');
            try {
                Class.forName(name, false, wiring.getClassLoader());
                loaded++;
            } catch (ClassNotFoundException | LinkageError e) {
                // A class that needs what is not there; the driver never loads it either then.
            }
        }
        return loaded;
    }

    private static void uninstallQuietly(Bundle bundle, Consumer<String> progress) {
        try {
            bundle.uninstall();
        } catch (BundleException | RuntimeException e) {
            progress.accept("warning: bundle " + bundle.getSymbolicName() + " " + bundle.getVersion() + " (id "
                    + bundle.getBundleId() + ") could not be uninstalled: " + e.getMessage());
        }
    }

    /** Updates {@code bundle} to {@code jar}; on any failure updates it back to {@code backup}, the running jar. */
    private Outcome swapInPlace(String type, Bundle bundle, Path jar, Version newVersion, String oldVersion,
            Path backup, Consumer<String> progress) throws ZoneException {
        registry.beginTrial(type);
        registry.lifecycleEvents().upgrade("UPGRADE_BEGAN", type, oldVersion, newVersion.toString(), "");
        try {
            long t0 = System.nanoTime();
            long updated = t0;
            long bound = t0;
            String failure = null;
            Map<String, String> refused = Map.of();
            try (InputStream in = Files.newInputStream(jar)) {
                bundle.update(in);
            } catch (BundleException | IOException e) {
                failure = "the new bundle did not start: " + e.getMessage();
            }
            updated = System.nanoTime();
            if (failure == null) {
                DriverBinding b = registry.awaitBinding(type, x -> x.version.equals(newVersion.toString()), timeout);
                bound = System.nanoTime();
                if (b == null) {
                    failure = "the new bundle registered no '" + type + "' driver within " + timeout.toSeconds()
                            + " s (its component may have failed to activate; see the log)";
                } else {
                    refused = registry.adoptAllNow(type);
                    if (!refused.isEmpty()) {
                        failure = "the new driver did not adopt " + refused;
                    }
                }
            }
            long end = System.nanoTime();
            long window = (end - t0) / 1_000_000;
            if (failure == null) {
                List<String> zones = zonesOf(type);
                progress.accept("driver " + type + " is now " + newVersion + "; adopted " + zones.size()
                        + " zone(s) " + zones + "; control plane unavailable for " + window + " ms (bundle update "
                        + (updated - t0) / 1_000_000 + " ms, until the driver bound " + (bound - updated) / 1_000_000
                        + " ms, adoption " + (end - bound) / 1_000_000 + " ms)");
                registry.lifecycleEvents().upgrade("UPGRADE_FINISHED", type, oldVersion, newVersion.toString(), "adopted " + zones);
                return new Outcome(type, oldVersion, newVersion.toString(), window, zones);
            }
            progress.accept("upgrade failed: " + failure + "; putting " + oldVersion + " back");
            try (InputStream in = Files.newInputStream(backup)) {
                bundle.update(in);
            } catch (BundleException | IOException e) {
                throw new ZoneException("upgrade of driver " + type + " failed (" + failure
                        + ") and the rollback failed too: " + e.getMessage() + ". Zones keep running; install "
                        + "a working driver with driver:upgrade", e);
            }
            DriverBinding back = registry.awaitBinding(type, x -> x.version.equals(oldVersion), timeout);
            Map<String, String> lost = back == null ? Map.of("*", "the old driver did not come back")
                    : registry.adoptAllNow(type);
            registry.lifecycleEvents().upgrade("UPGRADE_ROLLED_BACK", type, newVersion.toString(), oldVersion, failure);
            throw new ZoneException("upgrade of driver " + type + " to " + newVersion + " was rolled back: "
                    + failure + (lost.isEmpty() ? "; the zones are managed by " + oldVersion + " again"
                            : "; after the rollback these zones are not adopted: " + lost));
        } finally {
            registry.endTrial(type);
        }
    }

    private List<String> zonesOf(String type) {
        return registry.list().stream().filter(z -> type.equals(z.driver()) && z.state().isActive()
                && z.driverAttached()).map(z -> z.name()).toList();
    }

    private DriverBinding current(String type) throws ZoneException {
        DriverBinding b = registry.activeDriver(type);
        if (b == null) {
            throw new ZoneException("no '" + type + "' driver is bound; driver:list shows the bound drivers");
        }
        Bundle source = b.bundleId == DriverBinding.NO_BUNDLE ? null : context.getBundle(b.bundleId);
        if (source == null || source.getBundleId() == 0) {
            throw new ZoneException("driver " + type + " was not installed as a bundle of its own, so it cannot be "
                    + "upgraded");
        }
        String bsn = source.getSymbolicName();
        if (bsn.equals(context.getBundle().getSymbolicName()) || bsn.equals("zone-api")) {
            throw new ZoneException("driver " + type + " lives in " + bsn + ", which driver:upgrade does not replace");
        }
        return b;
    }

    /** The bundle that registered the binding's driver; {@link #current} has checked that there is one. */
    private Bundle bundleOf(DriverBinding b) throws ZoneException {
        Bundle bundle = context.getBundle(b.bundleId);
        if (bundle == null) {
            throw new ZoneException("the bundle of driver " + b.type + " was uninstalled meanwhile");
        }
        return bundle;
    }

    private Path resolve(String source) throws ZoneException {
        return resolve(source, mavenRepository);
    }

    /**
     * The jar that SOURCE names: a file, or {@code group:artifact:version} (also {@code mvn:group/artifact/version})
     * in a Maven-layout repository.
     */
    static Path resolve(String source, Path repository) throws ZoneException {
        Path p = Path.of(source);
        if (Files.isRegularFile(p)) {
            return p;
        }
        String[] gav = source.startsWith("mvn:") ? source.substring(4).split("[:/]", -1) : source.split(":", -1);
        boolean coordinate = gav.length == 3 && (source.startsWith("mvn:") || !source.contains("/"))
                && java.util.Arrays.stream(gav).allMatch(x -> x.matches("[A-Za-z0-9_.-]+") && !x.equals("..")
                        && !x.equals("."));
        if (coordinate) {
            Path jar = repository.resolve(gav[0].replace('.', '/')).resolve(gav[1]).resolve(gav[2])
                    .resolve(gav[1] + "-" + gav[2] + ".jar");
            if (Files.isRegularFile(jar)) {
                return jar;
            }
            throw new ZoneException("artifact " + source + " is not in the driver repository " + repository
                    + " (looked for " + jar + "); nothing was changed");
        }
        throw new ZoneException("'" + source + "' is neither a file nor a Maven coordinate group:artifact:version;"
                + " nothing was changed");
    }

    private static Manifest manifest(Path jar) throws ZoneException {
        try (JarFile f = new JarFile(jar.toFile())) {
            Manifest mf = f.getManifest();
            if (mf == null || mf.getMainAttributes().getValue("Bundle-SymbolicName") == null) {
                throw new ZoneException(jar + " is not an OSGi bundle (no Bundle-SymbolicName)");
            }
            return mf;
        } catch (IOException e) {
            throw new ZoneException(jar + " is not a readable jar: " + e.getMessage(), e);
        }
    }

    private static String symbolicName(Manifest mf) {
        return mf.getMainAttributes().getValue("Bundle-SymbolicName").split(";")[0].trim();
    }

    /** Refuses a bundle whose import ranges of our API do not include what the running zone-api exports. */
    private void checkImports(Path jar, Manifest mf) throws ZoneException {
        Map<String, VersionRange> imports = importRanges(mf.getMainAttributes().getValue("Import-Package"));
        List<String> problems = new ArrayList<>();
        for (String pkg : API_PACKAGES) {
            VersionRange wanted = imports.get(pkg);
            if (wanted == null) {
                continue;
            }
            Version running = exportedVersion(pkg);
            if (running == null) {
                problems.add(pkg + " is not exported by any running bundle");
            } else if (!wanted.includes(running)) {
                problems.add("it imports " + pkg + " " + wanted + " but the running zone-api exports " + running);
            }
        }
        if (!problems.isEmpty()) {
            throw new ZoneException(jar.getFileName() + " does not fit this appliance: " + String.join("; ",
                    problems) + ". Build the driver against the running zone-api; nothing was changed");
        }
    }

    private Version exportedVersion(String pkg) {
        for (Bundle b : context.getBundles()) {
            BundleRevision rev = b.adapt(BundleRevision.class);
            if (rev == null) {
                continue;
            }
            for (BundleCapability cap : rev.getDeclaredCapabilities(BundleRevision.PACKAGE_NAMESPACE)) {
                if (pkg.equals(cap.getAttributes().get(BundleRevision.PACKAGE_NAMESPACE))) {
                    Object v = cap.getAttributes().get("version");
                    return v instanceof Version ver ? ver : Version.emptyVersion;
                }
            }
        }
        return null;
    }

    /** The version ranges of an Import-Package header, by package. */
    static Map<String, VersionRange> importRanges(String header) {
        Map<String, VersionRange> ranges = new LinkedHashMap<>();
        if (header == null) {
            return ranges;
        }
        for (String clause : splitOutsideQuotes(header, ',')) {
            List<String> parts = splitOutsideQuotes(clause, ';');
            VersionRange range = new VersionRange("0.0.0");
            List<String> names = new ArrayList<>();
            for (String part : parts) {
                String t = part.trim();
                if (t.startsWith("version=")) {
                    range = new VersionRange(t.substring("version=".length()).replace("\"", "").trim());
                } else if (!t.contains("=")) {
                    names.add(t);
                }
            }
            for (String n : names) {
                ranges.put(n, range);
            }
        }
        return ranges;
    }

    private static List<String> splitOutsideQuotes(String s, char sep) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (char c : s.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == sep && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    private static Path installedJar(Bundle bundle) throws IOException {
        String location = bundle.getLocation();
        String path = location;
        for (String prefix : List.of("reference:", "file:")) {
            if (path.startsWith(prefix)) {
                path = path.substring(prefix.length());
            }
        }
        if (location.startsWith("reference:file:") || location.startsWith("file:")) {
            path = java.net.URI.create("file:" + path).getPath();
        }
        Path p = Path.of(path);
        if (!Files.isRegularFile(p)) {
            throw new IOException("bundle " + bundle.getSymbolicName() + " was installed from " + location
                    + ", which is not a jar file here");
        }
        return p;
    }
}

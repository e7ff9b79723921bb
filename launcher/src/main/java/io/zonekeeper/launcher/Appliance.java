package io.zonekeeper.launcher;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;

import io.zonekeeper.hostio.CodePolicy;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * The embedded Felix framework with the features' bundles, owning the state directory for as long as it runs.
 * Stopping it stops the management plane only: zones are separate processes and keep running.
 */
final class Appliance {

    /** JLine's uber bundle; gogo.jline finds its terminal providers through the thread's context loader. */
    static final String JLINE_BUNDLE = "org.jline";
    static final long STOP_TIMEOUT_MS = 30_000;

    private final Distribution distribution;
    private final Path stateDir;
    private final boolean interactive;
    private final PrintStream err;
    private final Path cache;
    private ApplianceLock lock;
    private Framework framework;
    private DeployGate deployGate;
    private Thread shutdownHook;
    private boolean stopped;
    private boolean heldElsewhere;

    Appliance(Distribution distribution, Path stateDir, boolean interactive, PrintStream err) {
        this.distribution = distribution;
        this.stateDir = stateDir;
        this.interactive = interactive;
        this.err = err;
        this.cache = stateDir.resolve("felix-cache");
    }

    /** The framework properties every bundle can rely on (see the launcher's README). */
    Map<String, String> frameworkProperties() throws LaunchException {
        Map<String, String> zonekeeper = new HashMap<>();
        zonekeeper.put("zonekeeper.home", distribution.home().toString());
        zonekeeper.put("zonekeeper.state", stateDir.toString());
        zonekeeper.put("zonekeeper.etc", distribution.etc().toString());
        zonekeeper.put("zonekeeper.deploy", distribution.deploy().toString());
        zonekeeper.put("zonekeeper.pid", Long.toString(ProcessHandle.current().pid()));

        Map<String, String> config = new HashMap<>();
        config.put("felix.log.level", "1");
        config.put("ds.loglevel", "warn");
        // FileInstall: configurations from etc/ and bundles dropped into deploy/. subdir.mode=skip keeps
        // etc/zones (zone specs, read by zone-core) from being taken for an exploded bundle.
        // deploy/ itself is the DeployGate's: FileInstall sees only the jars that passed the code policy.
        config.put("felix.fileinstall.dir", distribution.etc() + "," + admittedDir());
        config.put("felix.fileinstall.filter", ".*\\.(cfg|config|jar)");
        config.put("felix.fileinstall.subdir.mode", "skip");
        config.put("felix.fileinstall.noInitialDelay", "true");
        config.put("felix.fileinstall.poll", "2000");
        config.put("felix.fileinstall.log.level", "2");
        config.put("felix.fileinstall.enableConfigSave", "false");
        config.put("felix.fileinstall.tmpdir", stateDir.resolve("fileinstall-tmp").toString());
        config.putAll(distribution.settings(zonekeeper));
        config.remove(Distribution.FEATURES_KEY);
        // The appliance's own places always win over a settings file.
        config.putAll(zonekeeper);
        config.put(Constants.FRAMEWORK_STORAGE, cache.toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        config.put("gosh.args", interactive ? "" : "--nointeractive --noshutdown");
        // gogo.jline reads <gosh.home>/etc/gosh_profile: ours, which also works without a line reader.
        config.put("gosh.home", distribution.home().toString());
        for (String dir : config.get("felix.fileinstall.dir").split(",")) {
            if (!dir.isBlank() && Path.of(dir.trim()).toAbsolutePath().normalize().equals(
                    distribution.deploy().toAbsolutePath().normalize())) {
                throw new LaunchException("felix.fileinstall.dir in " + distribution.etc().resolve(
                        Distribution.SETTINGS_FILE) + " names " + distribution.deploy() + ", which would install "
                        + "bundles without the code policy's check; leave it out (the launcher watches deploy/ and "
                        + "hands FileInstall the jars it admits)");
            }
        }
        return config;
    }

    /** Where the jars of deploy/ that passed the code policy lie, for FileInstall. */
    Path admittedDir() {
        return stateDir.resolve("deploy-admitted");
    }

    /**
     * Takes the state directory's lock, starts the framework, installs the features' bundles and starts them by
     * start-order. A bundle that fails to start is reported and the rest still start: a broken driver must not
     * take the management plane down with it.
     */
    void start() throws LaunchException {
        WritableFolders.check(List.of(distribution.etc(), distribution.deploy()));
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            throw new LaunchException("cannot create state directory " + stateDir + ": " + e.getMessage());
        }
        try {
            lock = ApplianceLock.tryAcquire(stateDir).orElse(null);
        } catch (IOException e) {
            throw new LaunchException("cannot lock " + stateDir.resolve(ApplianceLock.FILE_NAME) + ": "
                    + e.getMessage());
        }
        if (lock == null) {
            heldElsewhere = true;
            throw new LaunchException(alreadyRunning(stateDir));
        }
        boolean started = false;
        try {
            Map<String, String> settings = distribution.settings(Map.of("zonekeeper.home",
                    distribution.home().toString(), "zonekeeper.state", stateDir.toString(), "zonekeeper.etc",
                    distribution.etc().toString()));
            List<Feature> features = new ArrayList<>();
            FeatureReader reader = new FeatureReader();
            for (Path file : distribution.featureFiles(settings)) {
                features.add(reader.read(file));
            }
            BundlePlan plan = BundlePlan.of(features, distribution.bundles());
            StartTrace.mark("features");
            if (!interactive) {
                // gogo.jline always builds a system terminal; without a shell, JLine's dumb terminal neither probes
                // the tty nor takes over SIGINT, which must stay the JVM's to stop the appliance.
                System.setProperty("org.jline.terminal.provider", "dumb");
            }
            Map<String, String> properties = frameworkProperties();
            deployGate = new DeployGate(distribution.deploy(), admittedDir(), () -> CodePolicy.of(properties::get),
                    err);
            try {
                deployGate.open();
            } catch (IOException e) {
                throw new LaunchException("cannot check " + distribution.deploy() + ": " + e.getMessage(), e);
            }
            StartTrace.mark("deploy-gate");
            Map<String, Object> config = new HashMap<>(properties);
            FelixLog log = new FelixLog();
            config.put("felix.log.logger", log);
            @SuppressWarnings({"unchecked", "rawtypes"})
            Map<String, String> felixConfig = (Map) config; // Felix takes objects too, such as its logger
            framework = ServiceLoader.load(FrameworkFactory.class).findFirst()
                    .orElseThrow(() -> new LaunchException("no OSGi framework in lib/ (expected Felix)"))
                    .newFramework(felixConfig);
            StartTrace.mark("new-framework");
            framework.init();
            StartTrace.mark("framework");
            shutdownHook = new Thread(this::stop, "zonekeeper-shutdown");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
            List<Bundle> installed = install(plan, KeptDrivers.choose(plan.entries(),
                    KeptDrivers.driversDir(distribution.etc(), stateDir, properties), () -> CodePolicy.of(properties::get),
                    err));
            StartTrace.mark("installed");
            framework.start();
            startAll(plan, installed);
            deployGate.watch();
            StartTrace.mark("started");
            started = true;
            ArchiveTraining.startedFully();
        } catch (BundleException e) {
            throw new LaunchException("cannot start the OSGi framework: " + e.getMessage(), e);
        } finally {
            if (!started) {
                stop();
            }
        }
    }

    /** Bundles installed from a kept driver upgrade instead of the distribution's jar, by plan index. */
    private Map<Integer, KeptDrivers.Kept> keptDrivers = Map.of();

    private List<Bundle> install(BundlePlan plan, Map<Integer, KeptDrivers.Kept> kept) throws LaunchException {
        BundleContext context = framework.getBundleContext();
        List<Bundle> bundles = new ArrayList<>();
        Map<Integer, KeptDrivers.Kept> installedKept = new HashMap<>();
        List<BundlePlan.Entry> entries = plan.entries();
        for (int i = 0; i < entries.size(); i++) {
            BundlePlan.Entry entry = entries.get(i);
            KeptDrivers.Kept k = kept.get(i);
            if (k != null) {
                // Copied into the framework's cache, not by reference: a later driver:upgrade replaces current.jar.
                try (var in = Files.newInputStream(k.jar())) {
                    bundles.add(context.installBundle(k.location(), in));
                    installedKept.put(i, k);
                    continue;
                } catch (BundleException | IOException e) {
                    err.println("zonekeeper: the upgraded " + k.symbolicName() + " " + k.version() + " in " + k.jar()
                            + " cannot be installed (" + e.getMessage() + "); starting the distribution's "
                            + k.distributionVersion());
                }
            }
            bundles.add(installByReference(context, entry));
        }
        keptDrivers = installedKept;
        return bundles;
    }

    private static Bundle installByReference(BundleContext context, BundlePlan.Entry entry) throws LaunchException {
        try {
            // reference: leaves the jar where it is instead of copying it into the cache.
            return context.installBundle("reference:" + entry.jar().toUri());
        } catch (BundleException e) {
            throw new LaunchException("cannot install " + entry.jar() + " (" + entry.id() + ", from "
                    + entry.feature().getFileName() + "): " + e.getMessage(), e);
        }
    }

    /**
     * A kept driver upgrade that does not resolve against this distribution (its imports no longer fit) is replaced
     * by the distribution's jar before anything starts, so a restart never ends without the driver.
     */
    private void resolvedOrReplaced(BundlePlan plan, List<Bundle> bundles) throws LaunchException {
        boolean replaced = false;
        for (Map.Entry<Integer, KeptDrivers.Kept> e : keptDrivers.entrySet()) {
            Bundle b = bundles.get(e.getKey());
            if (b.getState() != Bundle.INSTALLED) {
                continue;
            }
            KeptDrivers.Kept k = e.getValue();
            err.println("zonekeeper: the upgraded " + k.symbolicName() + " " + k.version() + " kept in " + k.jar()
                    + " does not resolve against this distribution; starting the distribution's "
                    + k.distributionVersion() + " (the kept jars stay for driver:upgrade to replace)");
            try {
                b.uninstall();
            } catch (BundleException ex) {
                err.println("zonekeeper: cannot remove it: " + ex.getMessage());
            }
            bundles.set(e.getKey(), installByReference(framework.getBundleContext(), plan.entries().get(e.getKey())));
            replaced = true;
        }
        if (replaced) {
            framework.adapt(FrameworkWiring.class).resolveBundles(bundles);
        }
    }

    private void startAll(BundlePlan plan, List<Bundle> bundles) throws LaunchException {
        framework.adapt(FrameworkWiring.class).resolveBundles(bundles);
        if (!keptDrivers.isEmpty()) {
            resolvedOrReplaced(plan, bundles);
        }
        StartTrace.mark("resolved");
        Thread thread = Thread.currentThread();
        ClassLoader original = thread.getContextClassLoader();
        ClassLoader jline = bundleClassLoader(bundles, JLINE_BUNDLE);
        if (interactive) {
            if (jline != null) {
                thread.setContextClassLoader(jline);
            }
        } else if (jline != null) {
            giveDumbTerminalItsCapabilities(jline);
        }
        try {
            for (int i = 0; i < bundles.size(); i++) {
                Bundle bundle = bundles.get(i);
                if (bundle.getHeaders().get(Constants.FRAGMENT_HOST) != null) {
                    continue;
                }
                try {
                    bundle.start();
                    if (StartTrace.on()) {
                        StartTrace.mark("bundle " + bundle.getSymbolicName());
                    }
                } catch (BundleException | RuntimeException e) {
                    BundlePlan.Entry entry = plan.entries().get(i);
                    err.println("zonekeeper: bundle " + entry.id() + " (" + entry.jar().getFileName() + ", from "
                            + entry.feature().getFileName() + ") did not start: " + e.getMessage());
                }
            }
        } finally {
            thread.setContextClassLoader(original);
        }
    }

    /**
     * Without a shell, gogo.jline's terminal is JLine's dumb one, and JLine asks {@code infocmp -x dumb} for its
     * capabilities each time it builds one: a process started and waited for inside gogo.jline's bundle start, on
     * the start's path (and JLine falls back to ANSI capabilities where the host has no infocmp). JLine carries the
     * dumb terminal's capabilities itself; handing them over as already loaded spares the process. Should JLine's
     * API differ, nothing is lost: JLine then asks infocmp as before.
     */
    static void giveDumbTerminalItsCapabilities(ClassLoader jline) {
        try {
            Class<?> infoCmp = Class.forName("org.jline.utils.InfoCmp", true, jline);
            Object caps = infoCmp.getMethod("getDefaultInfoCmp", String.class).invoke(null, "dumb");
            if (caps instanceof String && !((String) caps).isEmpty()) {
                infoCmp.getMethod("setLoadedInfoCmp", String.class, String.class).invoke(null, "dumb", caps);
            }
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            // JLine runs infocmp itself, as it would without this
        }
    }

    private static ClassLoader bundleClassLoader(List<Bundle> bundles, String symbolicName) {
        for (Bundle bundle : bundles) {
            if (symbolicName.equals(bundle.getSymbolicName())) {
                BundleWiring wiring = bundle.adapt(BundleWiring.class);
                return wiring == null ? null : wiring.getClassLoader();
            }
        }
        return null;
    }

    /** Blocks until the framework stops (the shell's exit, a signal, or {@link #stop()}), then cleans up. */
    void awaitStop() throws InterruptedException {
        framework.waitForStop(0);
        stop();
    }

    /** True when {@link #start()} failed because another appliance holds the state directory. */
    boolean heldElsewhere() {
        return heldElsewhere;
    }

    /** True while the framework has not been asked to stop. */
    synchronized boolean running() {
        return !stopped && framework != null && (framework.getState() & (Bundle.STARTING | Bundle.ACTIVE)) != 0;
    }

    /** Stops the framework, removes the Felix cache and releases the lock. Safe to call twice, from any thread. */
    synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        if (deployGate != null) {
            deployGate.close();
        }
        if (framework != null) {
            try {
                framework.stop();
                FrameworkEvent event = framework.waitForStop(STOP_TIMEOUT_MS);
                if (event.getType() == FrameworkEvent.WAIT_TIMEDOUT) {
                    err.println("zonekeeper: the framework did not stop within " + STOP_TIMEOUT_MS / 1000 + " s");
                }
            } catch (BundleException | InterruptedException e) {
                err.println("zonekeeper: stopping the framework failed: " + e.getMessage());
            }
        }
        deleteTree(cache);
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                // The OS drops the lock with the process anyway.
            }
        }
        if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // already shutting down
            }
        }
    }

    static String alreadyRunning(Path stateDir) {
        String who = ApplianceLock.holder(stateDir).map(pid -> " (PID " + pid + ")").orElse("");
        return "another appliance" + who + " already runs on state directory " + stateDir + " (it holds "
                + stateDir.resolve(ApplianceLock.FILE_NAME) + "); send it commands with: zonekeeper --state "
                + stateDir + " -c '...'";
    }

    private void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            err.println("zonekeeper: could not remove the Felix cache " + root + ": " + e.getMessage());
        }
    }
}

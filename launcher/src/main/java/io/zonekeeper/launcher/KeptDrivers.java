package io.zonekeeper.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

import io.zonekeeper.hostio.CodePolicy;

import org.osgi.framework.Version;

/**
 * Driver upgrades that outlive a restart. {@code driver:upgrade} (zone-core's DriverUpgrader) keeps the jar that
 * runs as {@code <zone-core state>/drivers/<symbolic name>/current.jar}, with {@code previous.jar} for a rollback.
 * Felix's cache is cleaned at every start, so without this a restart would quietly bring back the distribution's
 * older driver, the very code an operator upgraded away from. At start, for each bundle of the plan that has a kept
 * jar, the launcher installs the kept jar instead when:
 * <ul>
 * <li>it is the same bundle (symbolic name) with a higher version than the distribution's: a distribution that
 * brings the same or a newer version (a firmware update) wins, and the kept jars are moved aside to
 * {@code <name>.superseded} so that a later rollback cannot go back past the distribution;</li>
 * <li>the code policy accepts it now, as the deploy gate and {@code driver:upgrade} check it (a trust store changed
 * since the upgrade refuses it, and the distribution's jar runs);</li>
 * <li>it resolves ({@link #resolvedOrReplaced}): a kept driver that no longer fits the distribution's API is replaced
 * by the distribution's jar before anything starts.</li>
 * </ul>
 * Every choice is printed, so an operator sees which driver runs and why. With no kept jar (the usual start) this
 * costs one directory listing.
 */
final class KeptDrivers {

    /** A kept jar chosen over the distribution's for one plan entry. */
    record Kept(String symbolicName, Version version, Version distributionVersion, Path jar) {
        String location() {
            return "zonekeeper:kept-driver:" + symbolicName + "/" + version;
        }
    }

    private KeptDrivers() {
    }

    /**
     * Where zone-core keeps upgraded drivers: {@code <stateDir>/drivers}, where stateDir is zone-core's configured
     * one (etc/io.zonekeeper.core.cfg, {@code stateDir}) or else the appliance's state folder.
     */
    static Path driversDir(Path etc, Path stateDir, Map<String, String> properties) {
        Path cfg = etc.resolve("io.zonekeeper.core.cfg");
        if (Files.isRegularFile(cfg)) {
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(cfg)) {
                p.load(in);
                String configured = p.getProperty("stateDir", "").trim();
                for (Map.Entry<String, String> e : properties.entrySet()) {
                    configured = configured.replace("${" + e.getKey() + "}", e.getValue());
                }
                if (!configured.isEmpty() && !configured.contains("${")) {
                    return Path.of(configured).resolve("drivers");
                }
            } catch (IOException | IllegalArgumentException e) {
                // zone-core reports a configuration it cannot read; the default place is looked at here
            }
        }
        return stateDir.resolve("drivers");
    }

    /**
     * The kept jar to install for each plan entry (by index) that has one worth running; prints why each kept jar
     * found is used or not. {@code policy} is asked lazily, only when a kept jar is there.
     */
    static Map<Integer, Kept> choose(List<BundlePlan.Entry> entries, Path driversDir, PolicySource policy,
            PrintStream out) {
        Map<Integer, Kept> chosen = new HashMap<>();
        if (!Files.isDirectory(driversDir)) {
            return chosen;
        }
        Map<String, Path> keptByName = new HashMap<>();
        try (var dirs = Files.newDirectoryStream(driversDir, Files::isDirectory)) {
            for (Path dir : dirs) {
                Path current = dir.resolve("current.jar");
                if (Files.isRegularFile(current)) {
                    keptByName.put(dir.getFileName().toString(), current);
                }
            }
        } catch (IOException e) {
            out.println("zonekeeper: cannot look for upgraded drivers in " + driversDir + " (" + e.getMessage()
                    + "); starting the distribution's drivers");
            return chosen;
        }
        if (keptByName.isEmpty()) {
            return chosen;
        }
        for (int i = 0; i < entries.size(); i++) {
            BundlePlan.Entry entry = entries.get(i);
            Manifest dist;
            try {
                dist = manifest(entry.jar());
            } catch (IOException e) {
                continue; // the framework reports a broken distribution jar when it installs it
            }
            String name = symbolicName(dist);
            Path kept = name == null ? null : keptByName.remove(name);
            if (kept == null) {
                continue;
            }
            Version distVersion = version(dist);
            Kept k = keptIfWorthRunning(name, distVersion, kept, policy, out);
            if (k != null) {
                chosen.put(i, k);
            }
        }
        return chosen;
    }

    private static Kept keptIfWorthRunning(String name, Version distVersion, Path kept, PolicySource policy,
            PrintStream out) {
        Manifest mf;
        try {
            mf = manifest(kept);
        } catch (IOException e) {
            out.println("zonekeeper: the upgraded " + name + " kept in " + kept + " cannot be read (" + e.getMessage()
                    + "); starting the distribution's " + distVersion);
            return null;
        }
        if (!name.equals(symbolicName(mf))) {
            out.println("zonekeeper: " + kept + " is bundle " + symbolicName(mf) + ", not " + name
                    + "; starting the distribution's " + name + " " + distVersion);
            return null;
        }
        Version keptVersion = version(mf);
        if (keptVersion.compareTo(distVersion) <= 0) {
            Path dir = kept.getParent();
            Path aside = dir.resolveSibling(dir.getFileName() + ".superseded");
            String where;
            try {
                deleteTree(aside);
                Files.move(dir, aside, StandardCopyOption.ATOMIC_MOVE);
                where = "moved aside to " + aside;
            } catch (IOException e) {
                where = "left in " + dir + " (" + e.getMessage() + ")";
            }
            out.println("zonekeeper: the distribution brings " + name + " " + distVersion + ", not older than the "
                    + keptVersion + " an upgrade left; starting the distribution's; the upgrade's jars were " + where);
            return null;
        }
        try {
            policy.get().check(kept);
        } catch (CodePolicy.Refused e) {
            out.println("zonekeeper: the upgraded " + name + " " + keptVersion + " kept in " + kept
                    + " is refused by the code policy now (" + e.getMessage() + "); starting the distribution's "
                    + distVersion);
            return null;
        } catch (IOException e) {
            out.println("zonekeeper: cannot check the upgraded " + name + " " + keptVersion + " kept in " + kept
                    + " (" + e.getMessage() + "); starting the distribution's " + distVersion);
            return null;
        }
        out.println("zonekeeper: starting the upgraded " + name + " " + keptVersion + " kept in " + kept
                + " (the distribution has " + distVersion + ")");
        return new Kept(name, keptVersion, distVersion, kept);
    }

    /** The code policy as the settings say at start. */
    interface PolicySource {
        CodePolicy get() throws IOException;
    }

    static Manifest manifest(Path jar) throws IOException {
        try (JarFile jf = new JarFile(jar.toFile())) {
            Manifest mf = jf.getManifest();
            if (mf == null) {
                throw new IOException("no manifest");
            }
            return mf;
        }
    }

    static String symbolicName(Manifest mf) {
        String bsn = mf.getMainAttributes().getValue("Bundle-SymbolicName");
        if (bsn == null) {
            return null;
        }
        int semi = bsn.indexOf(';');
        return (semi < 0 ? bsn : bsn.substring(0, semi)).trim();
    }

    static Version version(Manifest mf) {
        Attributes a = mf.getMainAttributes();
        try {
            return Version.parseVersion(a.getValue("Bundle-Version"));
        } catch (IllegalArgumentException e) {
            return Version.emptyVersion;
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

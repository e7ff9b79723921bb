package io.zonekeeper.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.io.Reader;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class DistributionTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path home;
    private Distribution dist;

    @Before
    public void layout() throws Exception {
        home = tmp.getRoot().toPath().toRealPath();
        Files.createDirectories(home.resolve("features"));
        Files.createDirectories(home.resolve("etc"));
        dist = new Distribution(home);
    }

    @Test
    public void stateComesFromTheOptionThenTheEnvironmentThenTheHome() throws Exception {
        assertEquals(Path.of("/srv/zk"), dist.stateDir(LaunchOptions.parse("--state", "/srv/zk"),
                Map.of("ZONEKEEPER_STATE", "/var/lib/zonekeeper")));
        assertEquals(Path.of("/var/lib/zonekeeper"), dist.stateDir(LaunchOptions.parse(),
                Map.of("ZONEKEEPER_STATE", "/var/lib/zonekeeper")));
        assertEquals(home.resolve("state"), dist.stateDir(LaunchOptions.parse(), Map.of()));
    }

    @Test
    public void withoutAFeatureListEveryFeatureFileIsInstalledInNameOrder() throws Exception {
        Files.writeString(home.resolve("features/b.json"), "{}");
        Files.writeString(home.resolve("features/a.json"), "{}");
        Files.writeString(home.resolve("features/notes.txt"), "");
        assertEquals(List.of(home.resolve("features/a.json"), home.resolve("features/b.json")),
                dist.featureFiles(Map.of()));
    }

    @Test
    public void theSettingsChooseFeaturesAndAMissingOneIsNamed() throws Exception {
        Files.writeString(home.resolve("features/core.json"), "{}");
        Files.writeString(home.resolve("features/kvm.json"), "{}");
        assertEquals(List.of(home.resolve("features/kvm.json"), home.resolve("features/core.json")),
                dist.featureFiles(Map.of(Distribution.FEATURES_KEY, " kvm.json , core.json,")));
        try {
            dist.featureFiles(Map.of(Distribution.FEATURES_KEY, "core.json, xen.json"));
            fail("a listed feature that does not exist must be refused");
        } catch (LaunchException e) {
            assertEquals(home.resolve("etc/zonekeeper.properties") + ": zonekeeper.features names xen.json, but "
                    + "there is no file " + home.resolve("features/xen.json"), e.getMessage());
        }
    }

    @Test
    public void settingsReplaceVariablesAndNameAnUndefinedOne() throws Exception {
        Files.writeString(home.resolve("etc/zonekeeper.properties"),
                "felix.fileinstall.dir = ${zonekeeper.etc},${zonekeeper.home}/deploy\nplain = x\n");
        Map<String, String> vars = Map.of("zonekeeper.etc", "/e", "zonekeeper.home", "/h");
        assertEquals(Map.of("felix.fileinstall.dir", "/e,/h/deploy", "plain", "x"), dist.settings(vars));

        Files.writeString(home.resolve("etc/zonekeeper.properties"), "a = ${no.such.thing}\n");
        try {
            dist.settings(vars);
            fail("an undefined variable must be refused");
        } catch (LaunchException e) {
            assertEquals("settings file " + home.resolve("etc/zonekeeper.properties")
                    + ": a uses ${no.such.thing}, which is not defined", e.getMessage());
        }
    }

    /**
     * The shipped settings list features explicitly, so a feature added to the build is not installed until it is
     * listed there too (zonekeeper-network once was not, and the appliance had no net: or disk: commands), unless
     * it is one of the features that are {@linkplain #OFF_BY_DEFAULT off by default}.
     */
    @Test
    public void theShippedSettingsNameEveryFeatureTheBuildMakes() throws Exception {
        Properties shipped = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of("src/main/dist/etc/zonekeeper.properties"))) {
            shipped.load(r);
        }
        Set<String> listed = Arrays.stream(shipped.getProperty(Distribution.FEATURES_KEY, "").split(","))
                .map(String::trim).filter(n -> !n.isEmpty()).collect(Collectors.toCollection(TreeSet::new));
        Set<String> built;
        try (Stream<Path> files = Files.list(Path.of("../features/src/main/features"))) {
            built = files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".json"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        built.removeAll(OFF_BY_DEFAULT);
        assertEquals(built, listed);
    }

    /**
     * Features the distribution ships but leaves out of the default list on purpose: the web console opens a
     * listener, which the appliance never does unless the operator asks (README, "Web console").
     */
    private static final Set<String> OFF_BY_DEFAULT = Set.of("zonekeeper-web.json");
}

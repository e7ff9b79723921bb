package io.zonekeeper.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.hostio.CodePolicy;

import org.osgi.framework.Version;

public class KeptDriversTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final ByteArrayOutputStream said = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(said, true, StandardCharsets.UTF_8);
    private static final KeptDrivers.PolicySource NO_SIGNATURES = () -> CodePolicy.of(k -> "off");

    @Test
    public void aKeptNewerVersionOfTheSameBundleIsChosenAndSaidSo() throws Exception {
        List<BundlePlan.Entry> plan = plan(jar("dist/core.jar", "zone-core", "1.0.0"),
                jar("dist/kvm.jar", "kvm-driver;singleton:=true", "1.0.0.a"));
        Path drivers = tmp.getRoot().toPath().resolve("state/drivers");
        Path kept = jar("state/drivers/kvm-driver/current.jar", "kvm-driver", "1.0.1.b");
        Map<Integer, KeptDrivers.Kept> chosen = KeptDrivers.choose(plan, drivers, NO_SIGNATURES, out);
        assertEquals(Map.of(1, new KeptDrivers.Kept("kvm-driver", Version.parseVersion("1.0.1.b"),
                Version.parseVersion("1.0.0.a"), kept)), chosen);
        assertTrue(said(), said().contains("starting the upgraded kvm-driver 1.0.1.b"));
    }

    @Test
    public void theDistributionsSameOrNewerVersionWinsAndTheKeptJarsMoveAside() throws Exception {
        List<BundlePlan.Entry> plan = plan(jar("dist/kvm.jar", "kvm-driver", "1.2.0"));
        Path drivers = tmp.getRoot().toPath().resolve("state/drivers");
        jar("state/drivers/kvm-driver/current.jar", "kvm-driver", "1.1.0");
        jar("state/drivers/kvm-driver/previous.jar", "kvm-driver", "1.0.0");
        assertTrue(KeptDrivers.choose(plan, drivers, NO_SIGNATURES, out).isEmpty());
        assertFalse(Files.exists(drivers.resolve("kvm-driver")));
        assertTrue(Files.isRegularFile(drivers.resolve("kvm-driver.superseded/current.jar")));
        assertTrue(Files.isRegularFile(drivers.resolve("kvm-driver.superseded/previous.jar")));
        assertTrue(said(), said().contains("the distribution brings kvm-driver 1.2.0, not older than the 1.1.0"));
    }

    @Test
    public void aKeptJarOfAnotherBundleOrRefusedByThePolicyIsNotRun() throws Exception {
        List<BundlePlan.Entry> plan = plan(jar("dist/kvm.jar", "kvm-driver", "1.0.0"),
                jar("dist/xen.jar", "xen-driver", "1.0.0"));
        Path drivers = tmp.getRoot().toPath().resolve("state/drivers");
        jar("state/drivers/kvm-driver/current.jar", "evil-driver", "9.0.0");
        jar("state/drivers/xen-driver/current.jar", "xen-driver", "2.0.0");
        KeptDrivers.PolicySource refuses = () -> CodePolicy.required(tmp.getRoot().toPath().resolve("no-store.p12"),
                "changeit");
        Map<Integer, KeptDrivers.Kept> chosen;
        try {
            chosen = KeptDrivers.choose(plan, drivers, refuses, out);
        } catch (RuntimeException e) {
            throw new AssertionError("a policy that cannot be read must not stop the start", e);
        }
        assertTrue(chosen.toString(), chosen.isEmpty());
        assertTrue(said(), said().contains("is bundle evil-driver, not kvm-driver"));
        assertTrue(said(), said().contains("xen-driver 2.0.0"));
        assertTrue("kept jars that were not run stay for the operator",
                Files.isRegularFile(drivers.resolve("xen-driver/current.jar")));
    }

    @Test
    public void noDriversFolderMeansTheDistributionsBundlesAndNothingSaid() throws Exception {
        List<BundlePlan.Entry> plan = plan(jar("dist/kvm.jar", "kvm-driver", "1.0.0"));
        assertTrue(KeptDrivers.choose(plan, tmp.getRoot().toPath().resolve("none"), NO_SIGNATURES, out).isEmpty());
        assertEquals("", said());
    }

    @Test
    public void zoneCoresConfiguredStateFolderIsWhereTheKeptDriversAre() throws Exception {
        Path etc = tmp.newFolder("etc").toPath();
        Path state = tmp.getRoot().toPath().resolve("state");
        assertEquals(state.resolve("drivers"), KeptDrivers.driversDir(etc, state, Map.of()));
        Files.writeString(etc.resolve("io.zonekeeper.core.cfg"), "#stateDir =\n");
        assertEquals(state.resolve("drivers"), KeptDrivers.driversDir(etc, state, Map.of()));
        Files.writeString(etc.resolve("io.zonekeeper.core.cfg"), "stateDir = ${zonekeeper.state}/core\n");
        assertEquals(state.resolve("core/drivers"), KeptDrivers.driversDir(etc, state,
                Map.of("zonekeeper.state", state.toString())));
    }

    private String said() {
        return said.toString(StandardCharsets.UTF_8);
    }

    private List<BundlePlan.Entry> plan(Path... jars) {
        return java.util.Arrays.stream(jars).map(j -> new BundlePlan.Entry(null, 20, j, Path.of("f.json"))).toList();
    }

    private Path jar(String name, String bsn, String version) throws Exception {
        Path p = tmp.getRoot().toPath().resolve(name);
        Files.createDirectories(p.getParent());
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().putValue("Bundle-SymbolicName", bsn);
        mf.getMainAttributes().putValue("Bundle-Version", version);
        try (OutputStream o = Files.newOutputStream(p); JarOutputStream j = new JarOutputStream(o, mf)) {
            j.flush();
        }
        return p;
    }
}

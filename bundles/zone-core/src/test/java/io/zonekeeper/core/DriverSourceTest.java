package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneException;

/** Where driver:upgrade finds the jar that its SOURCE argument names. */
public class DriverSourceTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path repoWith(String group, String artifact, String version) throws Exception {
        Path repo = tmp.getRoot().toPath().resolve("repo");
        Path dir = repo.resolve(group.replace('.', '/')).resolve(artifact).resolve(version);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(artifact + "-" + version + ".jar"), "jar");
        return repo;
    }

    @Test
    public void aFileIsTakenAsItIs() throws Exception {
        Path jar = tmp.newFile("driver.jar").toPath();
        assertEquals(jar, DriverUpgrader.resolve(jar.toString(), tmp.getRoot().toPath().resolve("none")));
    }

    @Test
    public void aCoordinateIsFoundInTheRepositoryInBothSpellings() throws Exception {
        Path repo = repoWith("io.zonekeeper", "kvm-driver", "1.0.1");
        Path expected = repo.resolve("io/zonekeeper/kvm-driver/1.0.1/kvm-driver-1.0.1.jar");
        assertEquals(expected, DriverUpgrader.resolve("io.zonekeeper:kvm-driver:1.0.1", repo));
        assertEquals(expected, DriverUpgrader.resolve("mvn:io.zonekeeper/kvm-driver/1.0.1", repo));
    }

    @Test
    public void aMissingArtifactNamesTheRepositoryAndWhereItLooked() throws Exception {
        Path repo = repoWith("io.zonekeeper", "kvm-driver", "1.0.1");
        ZoneException e = assertThrows(ZoneException.class,
                () -> DriverUpgrader.resolve("io.zonekeeper:kvm-driver:1.0.2", repo));
        assertTrue(e.getMessage(), e.getMessage().contains("is not in the driver repository " + repo));
        assertTrue(e.getMessage(), e.getMessage().contains("kvm-driver/1.0.2/kvm-driver-1.0.2.jar"));
    }

    @Test
    public void neitherAFileNorACoordinateIsRefused() throws Exception {
        Path repo = repoWith("io.zonekeeper", "kvm-driver", "1.0.1");
        for (String bad : new String[] { "/no/such/file.jar", "a:b", "a:b:c:d", "io.zonekeeper:..:1.0.1",
                "mvn:io.zonekeeper/kvm-driver/../../x", "io.zonekeeper::1.0.1" }) {
            ZoneException e = assertThrows(bad, ZoneException.class, () -> DriverUpgrader.resolve(bad, repo));
            assertTrue(bad + ": " + e.getMessage(), e.getMessage().contains("nothing was changed"));
        }
    }
}

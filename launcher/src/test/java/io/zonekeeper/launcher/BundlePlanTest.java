package io.zonekeeper.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class BundlePlanTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void startsByStartOrderThenInListedOrderAndInstallsADuplicateOnceAtItsLowestOrder() throws Exception {
        Path bundles = tmp.newFolder("bundles").toPath();
        for (String jar : List.of("scr-2.jar", "api-1.jar", "core-1.jar", "json-2.jar", "driver-1.jar")) {
            Files.createFile(bundles.resolve(jar));
        }
        Feature core = feature("core.json", bundle("g:scr:2", 2), bundle("g:api:1", 10), bundle("g:core:1", 11),
                bundle("g:json:2", 1));
        Feature kvm = feature("kvm.json", bundle("g:driver:1", 20), bundle("g:api:1", 5));
        List<String> order = BundlePlan.of(List.of(core, kvm), bundles).entries().stream()
                .map(e -> e.jar().getFileName() + "@" + e.startOrder()).collect(Collectors.toList());
        assertEquals(List.of("json-2.jar@1", "scr-2.jar@2", "api-1.jar@5", "core-1.jar@11", "driver-1.jar@20"), order);
    }

    @Test
    public void aMissingJarNamesTheFeatureTheIdAndTheExpectedFile() throws Exception {
        Path bundles = tmp.newFolder("bundles").toPath();
        Feature kvm = feature("kvm.json", bundle("io.zonekeeper:kvm-driver:1.0.0-SNAPSHOT", 20));
        try {
            BundlePlan.of(List.of(kvm), bundles);
            fail("a feature whose jar is missing must not plan");
        } catch (LaunchException e) {
            assertEquals("feature file kvm.json lists io.zonekeeper:kvm-driver:1.0.0-SNAPSHOT, but the distribution "
                    + "has no " + bundles.resolve("kvm-driver-1.0.0-SNAPSHOT.jar"), e.getMessage());
        }
    }

    @Test
    public void noFeaturesMeansNoBundles() throws Exception {
        assertTrue(BundlePlan.of(List.of(), tmp.getRoot().toPath()).entries().isEmpty());
    }

    private static Feature feature(String file, Feature.Bundle... bundles) {
        return new Feature(Path.of(file), file, List.of(bundles));
    }

    private static Feature.Bundle bundle(String id, int order) {
        return new Feature.Bundle(ArtifactId.parse(id), order);
    }
}

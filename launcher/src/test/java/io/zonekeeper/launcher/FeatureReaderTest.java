package io.zonekeeper.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class FeatureReaderTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void readsBundlesWithTheirStartOrder() throws Exception {
        Path file = write("core.json", "{ \"feature-resource-version\": \"1.0\", \"id\": \"io.zonekeeper:core:osgifeature:1\","
                + " \"bundles\": [ {\"id\": \"org.apache.felix:org.apache.felix.scr:2.2.18\", \"start-order\": 2},"
                + " {\"id\": \"g:a:jar:native:1.0\", \"start-order\": \"3\"}, \"g:plain:1\" ] }");
        Feature f = new FeatureReader().read(file);
        assertEquals("io.zonekeeper:core:osgifeature:1", f.id());
        assertEquals(List.of(
                new Feature.Bundle(new ArtifactId("org.apache.felix", "org.apache.felix.scr", "jar", Optional.empty(),
                        "2.2.18"), 2),
                new Feature.Bundle(new ArtifactId("g", "a", "jar", Optional.of("native"), "1.0"), 3),
                new Feature.Bundle(new ArtifactId("g", "plain", "jar", Optional.empty(), "1"),
                        Feature.DEFAULT_START_ORDER)), f.bundles());
        assertEquals("a-1.0-native.jar", f.bundles().get(1).id().fileName());
    }

    @Test
    public void anEmptyBundleListIsAFeatureWithNoBundles() throws Exception {
        assertTrue(new FeatureReader().read(write("xen.json", "{\"bundles\": []}")).bundles().isEmpty());
    }

    @Test
    public void brokenJsonNamesTheFile() throws Exception {
        Path file = write("broken.json", "{ \"bundles\": [ ");
        assertProblem(file, "feature file " + file + ": not valid JSON");
    }

    @Test
    public void aMissingFileIsNamed() {
        Path file = tmp.getRoot().toPath().resolve("nope.json");
        assertProblem(file, "feature file " + file + ": no such file");
    }

    @Test
    public void aFeatureWithoutBundlesIsRefused() throws Exception {
        Path file = write("nobundles.json", "{\"id\": \"x\"}");
        assertProblem(file, "feature file " + file + ": has no \"bundles\" array");
        Path notArray = write("object.json", "{\"bundles\": {}}");
        assertProblem(notArray, "feature file " + notArray + ": \"bundles\" must be an array, found object");
        Path top = write("array.json", "[]");
        assertProblem(top, "feature file " + top + ": expected a JSON object at the top, found array");
    }

    @Test
    public void aBadBundleIdSaysWhichEntryAndWhatIsExpected() throws Exception {
        Path file = write("badid.json", "{\"bundles\": [ {\"id\": \"g:a:1\"}, {\"id\": \"just-a-name\"} ]}");
        assertProblem(file, "feature file " + file + ": bundles[1]: bundle id \"just-a-name\" is not "
                + "group:artifact:version or group:artifact:type[:classifier]:version");
        Path empty = write("emptypart.json", "{\"bundles\": [ {\"id\": \"g::1\"} ]}");
        assertProblem(empty, "feature file " + empty + ": bundles[0]: bundle id \"g::1\" has an empty part");
        Path noId = write("noid.json", "{\"bundles\": [ {\"start-order\": 1} ]}");
        assertProblem(noId, "feature file " + noId + ": bundles[0] has no string \"id\"");
    }

    @Test
    public void aBadStartOrderIsRefused() throws Exception {
        Path file = write("order.json", "{\"bundles\": [ {\"id\": \"g:a:1\", \"start-order\": \"soon\"} ]}");
        assertProblem(file, "feature file " + file + ": bundles[0]: \"start-order\" must be a whole number, found \"soon\"");
        Path zero = write("zero.json", "{\"bundles\": [ {\"id\": \"g:a:1\", \"start-order\": 0} ]}");
        assertProblem(zero, "feature file " + zero + ": bundles[0]: \"start-order\" must be 1 or more, found 0");
        Path fraction = write("fraction.json", "{\"bundles\": [ {\"id\": \"g:a:1\", \"start-order\": 1.5} ]}");
        assertProblem(fraction, "feature file " + fraction + ": bundles[0]: \"start-order\" must be a whole number, found 1.5");
    }

    private Path write(String name, String content) throws Exception {
        Path file = tmp.getRoot().toPath().resolve(name);
        Files.writeString(file, content);
        return file;
    }

    private static void assertProblem(Path file, String messageStart) {
        try {
            new FeatureReader().read(file);
            fail("expected " + file + " to be refused");
        } catch (LaunchException e) {
            assertTrue("message was: " + e.getMessage(), e.getMessage().startsWith(messageStart));
        }
    }
}

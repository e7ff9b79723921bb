package io.zonekeeper.images;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.image.ImageException;

/** Every refused import names its reason and leaves nothing in the store, not even a staging folder. */
public class BadInputTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path storeDir() {
        return tmp.getRoot().toPath().resolve("state/images");
    }

    private void assertRefused(Path source, String reason) throws IOException {
        Images store = new Images(storeDir(), "tar2sqfs", "zstd", "");
        ImageException e = assertThrows(ImageException.class, () -> store.importImage(source, null));
        assertTrue("'" + e.getMessage() + "' should say: " + reason, e.getMessage().contains(reason));
        assertEquals(List.of(), store.list());
        if (Files.exists(storeDir())) {
            try (Stream<Path> s = Files.list(storeDir())) {
                assertEquals("the store holds nothing after a refused import", List.of(), s.toList());
            }
        }
    }

    private static TestImage good() {
        return new TestImage().layer(new LayerBuilder().dir("etc", 0755, 0).file("etc/hostname", "zone\n", 0644, 0));
    }

    private Path layout(TestImage image) throws IOException {
        Path dir = tmp.newFolder().toPath();
        image.writeOci(dir);
        return dir;
    }

    @Test
    public void refusesABlobWhoseDigestDoesNotMatch() throws Exception {
        Path dir = tmp.newFolder().toPath();
        Path layer = good().writeOci(dir).layers().get(0);
        byte[] bytes = Files.readAllBytes(layer);
        bytes[bytes.length / 2] ^= 0x55;
        Files.write(layer, bytes);
        assertRefused(dir, "layer blob does not match its digest");
    }

    @Test
    public void refusesADockerConfigWhoseDigestDoesNotMatchItsName() throws Exception {
        TestImage image = good();
        image.env = List.of("A=1");
        Path archive = tmp.getRoot().toPath().resolve("docker.tar");
        image.writeDocker(archive, "x:1");
        // Tamper inside the archive: rewrite it with a config that is not the one its name hashes to.
        Path unpacked = tmp.newFolder().toPath();
        ImageSource.open(archive, unpacked);
        Path config;
        try (Stream<Path> s = Files.list(unpacked)) {
            config = s.filter(p -> p.toString().endsWith(".json") && !p.endsWith("manifest.json")).findFirst()
                    .orElseThrow();
        }
        Files.writeString(config, Files.readString(config).replace("A=1", "A=2"));
        assertRefused(unpacked, "does not match its digest");
    }

    @Test
    public void refusesAnEntryThatClimbsOutWithDotDot() throws Exception {
        assertRefused(layout(new TestImage().layer(new LayerBuilder().file("etc/../../evil", "x", 0644, 0))),
                "climbs out with '..'");
    }

    @Test
    public void refusesAnEntryWithAnAbsolutePath() throws Exception {
        assertRefused(layout(new TestImage().layer(new LayerBuilder().file("/etc/evil", "x", 0644, 0))),
                "has an absolute path");
    }

    @Test
    public void refusesWritingThroughASymlinkThatPointsOut() throws Exception {
        TestImage image = new TestImage()
                .layer(new LayerBuilder().symlink("escape", "../../../../tmp"))
                .layer(new LayerBuilder().file("escape/owned", "x", 0644, 0));
        assertRefused(layout(image), "'escape' -> '../../../../tmp', which points outside the image");
    }

    @Test
    public void refusesWritingThroughAnAbsoluteSymlinkThatClimbsAboveTheRoot() throws Exception {
        TestImage image = new TestImage().layer(new LayerBuilder().dir("a", 0755, 0).symlink("a/up", "/../..")
                .file("a/up/etc/passwd", "x", 0644, 0));
        assertRefused(layout(image), "points outside the image");
    }

    @Test
    public void refusesAManifestNamingAMissingBlob() throws Exception {
        Path dir = tmp.newFolder().toPath();
        Files.delete(good().writeOci(dir).layers().get(0));
        assertRefused(dir, "the layer blob sha256:");
        Path dir2 = tmp.newFolder().toPath();
        Files.delete(good().writeOci(dir2).config());
        assertRefused(dir2, "is missing");
    }

    @Test
    public void refusesATruncatedLayerTar() throws Exception {
        byte[] big = new byte[8000];
        Arrays.fill(big, (byte) 'z');
        byte[] tar = new LayerBuilder().file("big", big, 0644, 0).file("after", "x", 0644, 0).tar();
        TestImage image = new TestImage();
        image.layers.add(Arrays.copyOf(tar, 512 + 3000));
        assertRefused(layout(image), "is not a complete tar (truncated or damaged)");
    }

    @Test
    public void refusesATruncatedArchive() throws Exception {
        Path archive = tmp.getRoot().toPath().resolve("docker.tar");
        byte[] big = new byte[20000];
        new TestImage().layer(new LayerBuilder().file("big", big, 0644, 0)).writeDocker(archive, "t:1");
        byte[] bytes = Files.readAllBytes(archive);
        Files.write(archive, Arrays.copyOf(bytes, 512 + 7000));
        assertRefused(archive, "truncated");
    }

    @Test
    public void refusesAConfigWithAnUnknownMediaType() throws Exception {
        TestImage image = good();
        image.configMediaType = "application/vnd.example.not-a-config+json";
        assertRefused(layout(image), "the config has the unknown media type 'application/vnd.example.not-a-config"
                + "+json'");
    }

    @Test
    public void refusesALayerWithAnUnknownMediaType() throws Exception {
        TestImage image = good();
        image.layerMediaType = "application/vnd.example.layer.v1.tar+lzip";
        assertRefused(layout(image), "has the unknown media type 'application/vnd.example.layer.v1.tar+lzip'");
    }

    @Test
    public void refusesAZstdLayerNamingTheWayOut() throws Exception {
        TestImage image = good();
        image.layerMediaType = "application/vnd.oci.image.layer.v1.tar+zstd";
        assertRefused(layout(image), "skopeo copy --dest-compress-format gzip");
    }

    @Test
    public void refusesAHardLinkToNothing() throws Exception {
        assertRefused(layout(new TestImage().layer(new LayerBuilder().hardlink("bin/x", "bin/missing"))),
                "hard link 'bin/x' names 'bin/missing'");
    }

    @Test
    public void refusesALayerThatDoesNotMatchItsDiffId() throws Exception {
        TestImage image = good();
        image.diffIds = List.of(TestImage.sha(new LayerBuilder().file("other", "y", 0644, 0).tar()));
        assertRefused(layout(image), "does not match its diff id");
    }

    @Test
    public void refusesASourceThatDoesNotExist() throws Exception {
        assertRefused(tmp.getRoot().toPath().resolve("nonexistent"), "does not exist");
    }

    @Test
    public void refusesASourceThatIsNoImage() throws Exception {
        assertRefused(tmp.newFolder().toPath(), "neither an OCI image layout");
    }
}

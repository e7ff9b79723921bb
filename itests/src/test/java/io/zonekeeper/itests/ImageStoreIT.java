package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import javax.inject.Inject;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.felix.service.command.CommandProcessor;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.image.ImageStore;

/**
 * The image store in a real Felix, through the real Gogo commands: an OCI layout written by the test is imported,
 * listed and shown; removing it is refused while a zone names it, and works once the zone is gone; a layout whose
 * layer does not match its digest is refused and leaves nothing. No zone runs, so no KVM is needed.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ImageStoreIT {
    private static final Path STATE = Containers.newStateDir("image-store");

    @Inject
    CommandProcessor shell;
    @Inject
    ZoneManager zones;
    @Inject
    ImageStore store;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.images() };
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    @Test
    public void anOciLayoutImportsThroughTheShellAndIsHeldByTheZoneThatNamesIt() throws Exception {
        Path layout = writeLayout(Files.createTempDirectory("zk-it-layout"), false);

        String imported = sh("image:import --tag it/hello:1 " + layout);
        assertTrue(imported, imported.contains("it/hello:1") && imported.contains("squashfs"));
        assertTrue(sh("image:list").contains("it/hello:1"));
        String info = sh("image:info --json it/hello:1");
        assertTrue(info, info.contains("\"entrypoint\":[\"/bin/hello\"]"));
        assertTrue(info, info.contains("\"workingDir\":\"/srv\""));
        Path rootfs = store.resolve("it/hello:1").rootfs();
        assertTrue(rootfs.startsWith(STATE.resolve("images")));
        assertTrue(Files.size(rootfs) > 0);

        String unknown = Containers.run(shell, "zone:create --image it/nosuch:1 typo").error();
        assertTrue(unknown, unknown.contains("image it/nosuch:1"));
        sh("zone:create --image it/hello:1 --env A=1 holder -- --flag x");
        assertTrue(sh("zone:info holder"), sh("zone:info holder").contains("command=[--flag, x]"));
        String refused = Containers.run(shell, "image:remove it/hello:1").error();
        assertTrue(refused, refused.contains("used by zone(s) holder"));
        assertTrue(Files.isRegularFile(rootfs));

        sh("zone:destroy holder");
        assertTrue(sh("image:remove it/hello:1").contains("removed"));
        assertFalse(Files.exists(rootfs));
        assertEquals(0, store.list().size());
    }

    @Test
    public void aLayerThatDoesNotMatchItsDigestIsRefusedThroughTheShellAndLeavesNothing() throws Exception {
        Path layout = writeLayout(Files.createTempDirectory("zk-it-bad"), true);
        String refused = Containers.run(shell, "image:import " + layout).error();
        assertTrue(refused, refused.contains("does not match its digest"));
        if (Files.exists(STATE.resolve("images"))) {
            try (var s = Files.list(STATE.resolve("images"))) {
                assertEquals(0, s.count());
            }
        }
    }

    /** One layer with /bin/hello; {@code damage} flips a byte of the layer after its digest was taken. */
    private static Path writeLayout(Path dir, boolean damage) throws Exception {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(tar)) {
            byte[] hello = "#!/bin/sh\necho hello from an image\n".getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry("bin/hello");
            e.setMode(0755);
            e.setSize(hello.length);
            t.putArchiveEntry(e);
            t.write(hello);
            t.closeArchiveEntry();
        }
        byte[] layer = tar.toByteArray();
        String layerDigest = blob(dir, layer);
        String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/hello\"],"
                + "\"WorkingDir\":\"/srv\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + layerDigest + "\"]}}";
        byte[] configBytes = config.getBytes(StandardCharsets.UTF_8);
        String configDigest = blob(dir, configBytes);
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
                + "\",\"size\":" + configBytes.length + "},\"layers\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" + layerDigest + "\",\"size\":"
                + layer.length + "}]}";
        byte[] manifestBytes = manifest.getBytes(StandardCharsets.UTF_8);
        String manifestDigest = blob(dir, manifestBytes);
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.writeString(dir.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + manifestDigest + "\",\"size\":"
                + manifestBytes.length + "}]}");
        if (damage) {
            layer[600] ^= 1;
            Files.write(dir.resolve("blobs/sha256").resolve(layerDigest.substring(7)), layer);
        }
        return dir;
    }

    static String blob(Path dir, byte[] data) throws Exception {
        String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.write(dir.resolve("blobs/sha256").resolve(hex), data);
        return "sha256:" + hex;
    }
}

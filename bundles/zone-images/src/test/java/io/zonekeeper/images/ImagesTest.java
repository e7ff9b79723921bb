package io.zonekeeper.images;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;

public class ImagesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Images store() throws IOException {
        return new Images(tmp.getRoot().toPath().resolve("state/images"), "tar2sqfs", "zstd", "");
    }

    /**
     * Two layers: the second whites out a file of the first, makes a folder opaque, hides the primary of a hard link
     * and writes through an in-image symlink. The first carries a symlink, a hard link, a setuid file, a device
     * node, an xattr and files owned by uid 1000.
     */
    static TestImage fidelityImage() {
        return new TestImage()
                .layer(new LayerBuilder()
                        .dir("bin", 0755, 0)
                        .file("bin/app", "#!/bin/sh\necho hello\n", 0755, 0)
                        .file("bin/su", "setuid", 04755, 0)
                        .symlink("bin/sh", "app")
                        .hardlink("bin/app-again", "bin/app")
                        .dir("etc", 0755, 0)
                        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n", 0644, 0)
                        .file("etc/gone", "whited out", 0644, 0)
                        .dir("opq", 0711, 0)
                        .file("opq/old", "hidden by opaque", 0644, 0)
                        .dir("opq/olddir", 0755, 0)
                        .file("opq/olddir/deep", "hidden too", 0644, 0)
                        .dir("home", 0755, 0)
                        .dir("home/user", 0750, 1000)
                        .file("home/user/notes", "mine", 0600, 1000)
                        .xattr("user.origin", "layer1")
                        .dir("data", 0755, 0)
                        .file("data/primary", "shared bytes", 0640, 0)
                        .hardlink("data/link", "data/primary")
                        .dir("usr/lib", 0755, 0)
                        .symlink("lib", "usr/lib")
                        .dir("dev", 0755, 0)
                        .charDevice("dev/null", 1, 3))
                .layer(new LayerBuilder()
                        .whiteout("etc/gone")
                        .dir("opq", 0700, 0)
                        .opaque("opq")
                        .file("opq/new", "after opaque", 0644, 0)
                        .whiteout("data/primary")
                        .file("lib/libnew.so", "through the link", 0755, 0)
                        .file("etc/added", "layer two", 0644, 1000));
    }

    @Test
    public void ociImageOfTwoLayersIsPackedWithWhiteoutsOwnersModesAndLinks() throws Exception {
        Path layout = tmp.newFolder("layout").toPath();
        fidelityImage().writeOci(layout, "fidelity:1");
        Images store = store();

        ImageInfo info = store.importImage(layout, null);

        assertEquals(List.of("fidelity:1"), info.names());
        assertEquals("squashfs", info.format());
        assertEquals(List.of("/bin/app"), info.config().entrypoint());
        assertEquals(List.of("--serve"), info.config().cmd());
        assertEquals(List.of("PATH=/usr/bin:/bin", "MODE=test"), info.config().env());
        assertEquals("/srv", info.config().workingDir());
        assertEquals("1000:1000", info.config().user());
        assertTrue(Files.isRegularFile(info.rootfs()));
        assertEquals(Files.size(info.rootfs()), info.rootfsBytes());

        PackedImage img = PackedImage.read(info.rootfs());
        assertFalse("whited-out file", img.has("etc/gone"));
        assertFalse("whiteout marker itself", img.has("etc/.wh.gone"));
        assertEquals("root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n", img.content("etc/passwd"));
        assertFalse("below an opaque folder", img.has("opq/old"));
        assertFalse("below an opaque folder", img.has("opq/olddir/deep"));
        assertFalse(img.has("opq/.wh..wh..opq"));
        assertEquals("after opaque", img.content("opq/new"));
        assertEquals(0700, img.get("opq").getMode() & 07777);

        assertEquals(04755, img.get("bin/su").getMode() & 07777);
        assertTrue(img.get("bin/sh").isSymbolicLink());
        assertEquals("app", img.get("bin/sh").getLinkName());
        TarArchiveEntry app = img.get("bin/app");
        TarArchiveEntry again = img.get("bin/app-again");
        assertTrue("one of the two is a hard link to the other", app.isLink() && app.getLinkName().equals(
                "bin/app-again") || again.isLink() && again.getLinkName().equals("bin/app"));

        TarArchiveEntry home = img.get("home/user");
        assertEquals(1000, home.getLongUserId());
        assertEquals(1000, home.getLongGroupId());
        assertEquals(0750, home.getMode() & 07777);
        assertEquals(1000, img.get("home/user/notes").getLongUserId());
        assertEquals(0600, img.get("home/user/notes").getMode() & 07777);
        assertEquals("layer1", img.get("home/user/notes").getExtraPaxHeader("SCHILY.xattr.user.origin"));
        assertEquals(1000, img.get("etc/added").getLongUserId());

        assertTrue(img.get("dev/null").isCharacterDevice());
        assertEquals(1, img.get("dev/null").getDevMajor());
        assertEquals(3, img.get("dev/null").getDevMinor());

        assertFalse("the hidden primary of a hard link", img.has("data/primary"));
        assertEquals("its link keeps the data", "shared bytes", img.content("data/link"));
        assertEquals(0640, img.get("data/link").getMode() & 07777);

        assertTrue(img.get("lib").isSymbolicLink());
        assertEquals("written through an in-image link", "through the link", img.content("usr/lib/libnew.so"));
    }

    @Test
    public void dockerSaveArchiveImportsWithItsRepoTag() throws Exception {
        Path archive = tmp.getRoot().toPath().resolve("saved.tar");
        fidelityImage().writeDocker(archive, "example/app:2");
        Images store = store();

        ImageInfo info = store.importImage(archive, null);

        assertEquals(List.of("example/app:2"), info.names());
        assertEquals(List.of("/bin/app"), info.config().entrypoint());
        PackedImage img = PackedImage.read(info.rootfs());
        assertFalse(img.has("etc/gone"));
        assertEquals(04755, img.get("bin/su").getMode() & 07777);
        assertEquals(1000, img.get("home/user").getLongUserId());
        assertEquals("after opaque", img.content("opq/new"));
        assertEquals(List.of(info), store.list());
        assertEquals(info.id(), store.resolve("example/app:2").id());
        assertEquals(info.id(), store.resolve(info.id().substring(7, 19)).id());
    }

    @Test
    public void ociLayoutAsTarImportsAndTheSameConfigIsStoredOnce() throws Exception {
        Path layout = tmp.newFolder("layout").toPath();
        fidelityImage().writeOci(layout, "one");
        Path archive = tmp.getRoot().toPath().resolve("oci.tar");
        TestImage.tarFolder(layout, archive);
        Images store = store();

        ImageInfo fromDir = store.importImage(layout, null);
        ImageInfo fromTar = store.importImage(archive, "two");

        assertEquals(fromDir.id(), fromTar.id());
        assertEquals(List.of("one", "two"), fromTar.names());
        assertEquals(1, store.list().size());
        assertEquals(List.of(fromDir.id().substring(7)), storeEntries());
    }

    @Test
    public void indexWithSeveralImagesNeedsTheTag() throws Exception {
        Path layout = tmp.newFolder("layout").toPath();
        fidelityImage().writeOci(layout, "a:1", "b:2");
        Images store = store();

        ImageException e = assertThrows(ImageException.class, () -> store.importImage(layout, null));
        assertTrue(e.getMessage(), e.getMessage().contains("holds 2 images (a:1, b:2); name one with --tag"));
        e = assertThrows(ImageException.class, () -> store.importImage(layout, "c:3"));
        assertTrue(e.getMessage(), e.getMessage().contains("no image named 'c:3'"));

        assertEquals(List.of("b:2"), store.importImage(layout, "b:2").names());
    }

    @Test
    public void removeIsRefusedWhileAZoneUsesTheImage() throws Exception {
        Path layout = tmp.newFolder("layout").toPath();
        fidelityImage().writeOci(layout, "used");
        Images store = store();
        ImageInfo info = store.importImage(layout, null);

        ImageException e = assertThrows(ImageException.class, () -> store.remove("used", List.of(i -> List.of("web"))));
        assertTrue(e.getMessage(), e.getMessage().contains("used by zone(s) web"));
        assertTrue(Files.isRegularFile(info.rootfs()));

        store.remove("used", List.of(i -> List.of()));
        assertTrue(store.list().isEmpty());
        assertEquals(List.of(), storeEntries());
    }

    /** What the store folder holds, hidden staging folders included: a refused import must leave nothing. */
    private List<String> storeEntries() throws IOException {
        Path dir = tmp.getRoot().toPath().resolve("state/images");
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

}

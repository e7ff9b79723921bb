package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class BootFoldersTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path cache;
    private Path boot;
    private Path extra;
    private Path outside;
    private BootFolders folders;

    @Before
    public void setUp() throws IOException {
        cache = tmp.newFolder("cache").toPath();
        boot = tmp.newFolder("boot").toPath();
        extra = tmp.newFolder("kernels").toPath();
        outside = tmp.newFolder("etc").toPath();
        folders = new BootFolders(cache, boot, List.of(extra, tmp.getRoot().toPath().resolve("missing")),
                "io.zonekeeper.kvm");
    }

    private void refused(String expected, String what, String path) {
        try {
            folders.confine(what, path);
            fail("should be refused: " + path);
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
    }

    @Test
    public void filesInEachFolderAreAcceptedByRealPath() throws IOException {
        Path k = Files.writeString(boot.resolve("vmlinuz-6.1.0-9-amd64"), "k");
        Path i = Files.writeString(extra.resolve("initrd.img"), "i");
        Path c = Files.writeString(cache.resolve("initramfs.cpio.gz"), "c");
        assertEquals(k.toRealPath(), folders.confine("kernel", boot + "/../boot/vmlinuz-6.1.0-9-amd64"));
        assertEquals(i.toRealPath(), folders.confine("initramfs", i.toString()));
        assertEquals(c.toRealPath(), folders.confine("initramfs", c.toString()));
    }

    @Test
    public void aFileOutsideIsRefusedEvenThroughASymlinkOrDotDot() throws IOException {
        Path secret = Files.writeString(outside.resolve("shadow"), "root:x");
        refused("kernel " + secret + " is outside the folders a zone's kernel and initramfs may come from", "kernel",
                secret.toString());
        Path link = Files.createSymbolicLink(boot.resolve("vmlinuz-evil"), secret);
        refused("initramfs " + link + " (really " + secret.toRealPath() + ") is outside", "initramfs",
                link.toString());
        refused("is outside", "kernel", boot + "/../etc/shadow");
        refused("allow its folder in the configuration io.zonekeeper.kvm, bootFolders", "kernel", secret.toString());
    }

    @Test
    public void aMissingFileOrAFolderIsNotAFile() throws IOException {
        refused("kernel " + boot + "/vmlinuz-none does not exist", "kernel", boot + "/vmlinuz-none");
        Files.createDirectory(boot.resolve("dir"));
        refused("is not a file", "kernel", boot.resolve("dir").toString());
    }
}

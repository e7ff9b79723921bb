package io.zonekeeper.kvm.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The module groups a zone image carries are parsed once per kernel and index files, not per start: a start with
 * nothing changed gets the same image, and a changed modules.dep is seen by the next start.
 */
public class ZoneImagesTest {
    private static final String RELEASE = "6.1.0-99-test";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path modulesDir;
    private ZoneImages images;
    private Path kernel;

    private void host(String... depLines) throws IOException {
        Path boot = tmp.newFolder("boot").toPath();
        kernel = Files.writeString(boot.resolve("vmlinuz-" + RELEASE), "not a real kernel");
        // The initramfs checks its busybox: the host's static one (scripts/setup installs it).
        Path busybox = Path.of("/bin/busybox");
        Path modulesRoot = tmp.newFolder("modules").toPath();
        modulesDir = Files.createDirectories(modulesRoot.resolve(RELEASE));
        for (String m : List.of("virtio", "virtio_ring", "virtio_mmio", "virtio_console")) {
            Path ko = modulesDir.resolve("kernel/drivers/" + m + ".ko");
            Files.createDirectories(ko.getParent());
            Files.writeString(ko, "module " + m);
        }
        writeDep(depLines);
        Files.writeString(modulesDir.resolve("modules.softdep"), "");
        images = new ZoneImages(tmp.newFolder("cache").toPath(), boot, modulesRoot, busybox);
    }

    private void writeDep(String... lines) throws IOException {
        Path dep = modulesDir.resolve("modules.dep");
        FileTime before = Files.exists(dep) ? Files.getLastModifiedTime(dep) : null;
        Files.writeString(dep, String.join("\n", lines) + "\n");
        if (before != null) {
            // A rewrite within the same millisecond keeps the mtime; a package update never does.
            Files.setLastModifiedTime(dep, FileTime.fromMillis(before.toMillis() + 2000));
        }
    }

    private static final String[] WITHOUT_CONSOLE = {
        "kernel/drivers/virtio.ko: kernel/drivers/virtio_ring.ko",
        "kernel/drivers/virtio_ring.ko:",
        "kernel/drivers/virtio_mmio.ko: kernel/drivers/virtio.ko kernel/drivers/virtio_ring.ko"};

    @Test
    public void aSecondStartGetsTheSameImage() throws IOException {
        host(WITHOUT_CONSOLE);
        ZoneImages.BootImage first = images.image(kernel, null);
        ZoneImages.BootImage second = images.image(kernel, null);
        assertEquals(first.initramfs(), second.initramfs());
        assertEquals(first.features(), second.features());
        assertFalse(first.features().contains("channels"));
    }

    @Test
    public void aChangedModulesDepIsSeenByTheNextStart() throws IOException {
        host(WITHOUT_CONSOLE);
        ZoneImages.BootImage before = images.image(kernel, null);
        assertFalse(before.features().contains("channels"));
        writeDep(WITHOUT_CONSOLE[0], WITHOUT_CONSOLE[1], WITHOUT_CONSOLE[2],
                "kernel/drivers/virtio_console.ko: kernel/drivers/virtio.ko kernel/drivers/virtio_ring.ko");
        ZoneImages.BootImage after = images.image(kernel, null);
        assertTrue(after.features().toString(), after.features().contains("channels"));
        assertNotEquals(before.initramfs(), after.initramfs());
    }
}

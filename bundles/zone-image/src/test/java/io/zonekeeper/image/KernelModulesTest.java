package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class KernelModulesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private KernelModules modules() throws IOException {
        return KernelModules.load(index(tmp.getRoot().toPath()));
    }

    /** The index files of a /lib/modules/RELEASE folder {@code dir} with virtio, ext4 and their needs. */
    static Path index(Path dir) throws IOException {
        Files.createDirectories(dir);
        // Listed as Debian's modules.dep lists them: the dependency needed last comes first.
        Files.writeString(dir.resolve("modules.dep"), String.join("\n",
                "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/virtio/virtio_ring.ko:",
                "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
                "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko",
                "kernel/fs/jbd2/jbd2.ko:",
                "kernel/fs/mbcache.ko:",
                "kernel/lib/crc16.ko:",
                "kernel/crypto/crc32c_generic.ko:",
                "kernel/arch/x86/crypto/crc32c-intel.ko:",
                "kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
                ""));
        Files.writeString(dir.resolve("modules.softdep"), "# comment\nsoftdep ext4 pre: crypto-crc32c\n"
                + "softdep jbd2 pre: crypto-crc32c\nsoftdep virtio_console post: no-such-module\n");
        Files.writeString(dir.resolve("modules.alias"), "alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\n"
                + "alias crc32c crc32c_generic\nalias pci:v00001AF4d* virtio_pci\n");
        Files.writeString(dir.resolve("modules.builtin"), "kernel/drivers/tty/serial/8250/8250.ko\n");
        return dir;
    }

    private static List<String> names(List<KernelModules.Module> mods) {
        return mods.stream().map(KernelModules.Module::name).collect(Collectors.toList());
    }

    @Test
    public void virtioConsoleLoadsAfterRingAndCoreAndEachModuleOnce() throws IOException {
        List<KernelModules.Module> order = modules().resolve(List.of("virtio_mmio", "virtio_console"));
        assertEquals(List.of("virtio_ring", "virtio", "virtio_mmio", "virtio_console"), names(order));
        assertTrue(order.get(0).file().endsWith("kernel/drivers/virtio/virtio_ring.ko"));
    }

    @Test
    public void softDependencyThroughAnAliasLoadsFirst() throws IOException {
        // Every module of the alias, as modprobe would try each: a guest CPU without SSE4.2 refuses crc32c_intel.
        assertEquals(List.of("crc32c_intel", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"),
                names(modules().resolve(List.of("ext4"))));
    }

    @Test
    public void dashesAndUnderscoresNameTheSameModule() throws IOException {
        List<KernelModules.Module> order = modules().resolve(List.of("virtio-rng"));
        assertEquals(List.of("virtio_ring", "virtio", "virtio_rng"), names(order));
        assertTrue(order.get(2).file().toString().endsWith("virtio-rng.ko"));
    }

    @Test
    public void builtinModulesNeedNoFile() throws IOException {
        KernelModules m = modules();
        assertTrue(m.isBuiltin("8250"));
        assertEquals(List.of(), m.resolve(List.of("8250")));
    }

    @Test
    public void missingModuleIsNamed() throws IOException {
        try {
            modules().resolve(List.of("virtio_net"));
            fail("virtio_net is not in modules.dep");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("virtio_net"));
        }
    }

    @Test
    public void missingIndexSaysWhatToInstall() {
        try {
            KernelModules.load(tmp.getRoot().toPath().resolve("nothing"));
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("modules.dep"));
        }
    }

    @Test
    public void realHostKernelResolvesVirtioConsoleInOrder() throws IOException {
        Path dir = Path.of("/lib/modules");
        org.junit.Assume.assumeTrue(Files.isDirectory(dir));
        Path release;
        try (var s = Files.list(dir)) {
            release = s.filter(p -> Files.isRegularFile(p.resolve("modules.dep"))).findFirst().orElse(null);
        }
        org.junit.Assume.assumeNotNull(release);
        List<String> order = names(KernelModules.load(release).resolve(List.of("virtio_mmio", "virtio_console")));
        assertTrue(order.toString(), order.indexOf("virtio_ring") < order.indexOf("virtio")
                || !order.contains("virtio_ring"));
        assertEquals("virtio_console", order.get(order.size() - 1));
    }
}

package io.zonekeeper.xen.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import org.junit.Assume;

import io.zonekeeper.image.Hypervisor;
import io.zonekeeper.image.KernelModules;
import io.zonekeeper.image.ZoneInitScript;
import org.junit.Test;

public class ZoneImageTest {

    /**
     * Reads a newc archive back by hand, independently of the Commons Compress that wrote it: name to {mode, data,
     * rdev major}; checks magic and alignment on the way, as the kernel's unpacker needs them.
     */
    static Map<String, Object[]> read(byte[] a) {
        Map<String, Object[]> out = new LinkedHashMap<>();
        int p = 0;
        while (true) {
            assertEquals("entries start on four bytes", 0, p % 4);
            String h = new String(a, p, 110, StandardCharsets.US_ASCII);
            assertEquals("070701", h.substring(0, 6));
            int mode = Integer.parseInt(h.substring(14, 22), 16);
            int size = Integer.parseInt(h.substring(54, 62), 16);
            int rdevMajor = Integer.parseInt(h.substring(78, 86), 16);
            int nameSize = Integer.parseInt(h.substring(94, 102), 16);
            String name = new String(a, p + 110, nameSize - 1, StandardCharsets.UTF_8);
            assertEquals(0, a[p + 110 + nameSize - 1]);
            p = align(p + 110 + nameSize);
            byte[] data = java.util.Arrays.copyOfRange(a, p, p + size);
            p = align(p + size);
            if (name.equals("TRAILER!!!")) {
                // Commons Compress pads the archive to its 512-byte block, as cpio(1) does; the kernel's unpacker
                // skips zero bytes between and after archives.
                assertEquals("padded to whole blocks", 0, a.length % 512);
                for (int i = p; i < a.length; i++) {
                    assertEquals("only zeros after the trailer", 0, a[i]);
                }
                return out;
            }
            out.put(name, new Object[] {mode, data, rdevMajor});
        }
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }

    private static Map<String, Object[]> unpack(Path p) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
            return read(in.readAllBytes());
        }
    }

    private static String text(Map<String, Object[]> e, String name) {
        assertTrue(name + " in " + e.keySet(), e.containsKey(name));
        return new String((byte[]) e.get(name)[1], StandardCharsets.UTF_8);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** A /lib/modules/RELEASE folder with the index files and empty .ko files, as a kernel package lays it out. */
    public static Path fakeModules(Path root, String release) throws IOException {
        Path d = Files.createDirectories(root.resolve(release));
        Files.writeString(d.resolve("modules.dep"), String.join("\n",
                "kernel/drivers/net/xen-netfront.ko:",
                "kernel/drivers/block/xen-blkfront.ko:",
                "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko",
                "kernel/fs/jbd2/jbd2.ko:", "kernel/fs/mbcache.ko:", "kernel/lib/crc16.ko:",
                "kernel/arch/x86/crypto/crc32c-intel.ko:", "kernel/crypto/crc32c_generic.ko:",
                "kernel/drivers/xen/xen-evtchn.ko:", "kernel/drivers/xen/xen-gntdev.ko:",
                "kernel/drivers/xen/xen-gntalloc.ko:", ""));
        Files.writeString(d.resolve("modules.softdep"), "softdep ext4 pre: crypto-crc32c\n"
                + "softdep jbd2 pre: crypto-crc32c\n");
        Files.writeString(d.resolve("modules.alias"), "alias crypto-crc32c crc32c_intel\nalias crc32c crc32c_intel\n"
                + "alias crypto-crc32c crc32c_generic\nalias pci:v00008086d* e1000e\n");
        Files.writeString(d.resolve("modules.builtin"), "kernel/drivers/tty/hvc/hvc_xen.ko\n");
        try (var lines = Files.lines(d.resolve("modules.dep"))) {
            for (String l : lines.filter(l -> l.contains(":")).toList()) {
                Path ko = d.resolve(l.substring(0, l.indexOf(':')));
                Files.createDirectories(ko.getParent());
                Files.writeString(ko, "module " + ko.getFileName());
            }
        }
        return d;
    }

    @Test
    public void ext4ComesAfterEveryCrc32cOfItsSoftdepAndItsHardDependencies() throws IOException {
        Path root = Files.createTempDirectory("xen-modules");
        try {
            KernelModules m = KernelModules.load(fakeModules(root, "6.1.0-test"));
            List<String> order = m.resolve(List.of("xen-blkfront", "ext4")).stream().map(KernelModules.Module::name)
                    .toList();
            assertEquals(List.of("xen_blkfront", "crc32c_intel", "crc32c_generic", "crc16", "mbcache", "jbd2",
                    "ext4"), order);
            assertEquals("built in: nothing to load", List.of(), m.resolve(List.of("hvc_xen")));
            IOException e = org.junit.Assert.assertThrows(IOException.class, () -> m.resolve(List.of("nope")));
            assertTrue(e.getMessage(), e.getMessage().contains("kernel module nope is not in"));
        } finally {
            deleteTree(root);
        }
    }

    @Test
    public void theZoneInitramfsCarriesTheFrontendsEachZoneLoadsOnlyWhatItNeeds() throws IOException {
        Path busybox = Path.of("/bin/busybox");
        Assume.assumeTrue("needs busybox-static", Files.isRegularFile(busybox));
        Path tmp = Files.createTempDirectory("xen-image");
        try {
            fakeModules(tmp.resolve("modules"), "6.1.0-test");
            Path kernel = Files.writeString(tmp.resolve("vmlinuz-6.1.0-test"), "not a bzImage");
            ZoneImage img = new ZoneImage(tmp.resolve("cache"), tmp, tmp.resolve("modules"), busybox,
                    tmp.resolve("no-proxy"));
            ZoneImage.Initramfs ir = img.initramfs(kernel);
            assertEquals("6.1.0-test", ir.release());
            assertEquals("cached: a second call builds nothing", ir, img.initramfs(kernel));
            assertEquals(java.util.Set.of("net", "disk"), ir.features());
            assertTrue(ir.missing().get("vchan"), ir.missing().get("vchan").contains("no-proxy does not exist"));
            Map<String, Object[]> e = unpack(ir.path());
            assertTrue(e.keySet().toString(), e.keySet().containsAll(List.of("init", "bin/busybox", "sbin/poweroff",
                    "dev/console", "lib/modules/xen_netfront.ko", "lib/modules/ext4.ko")));
            assertEquals("xen_netfront\n", text(e, "etc/zonekeeper/modules.net"));
            assertEquals("xen_blkfront\ncrc32c_intel\ncrc32c_generic\ncrc16\nmbcache\njbd2\next4\n",
                    text(e, "etc/zonekeeper/modules.disk"));
            String init = text(e, "init");
            assertEquals("the library's init with the Xen hooks", ZoneInitScript.render(Hypervisor.XEN), init);
            assertTrue(init.contains("zonekeeper: zone $name ready"));
            assertTrue("the same words as the KVM init", init.contains("zk.nic=*") && init.contains("zk.disks=*")
                    && init.contains("zk.features=*"));
            assertEquals(Files.size(busybox), ((byte[]) e.get("bin/busybox")[1]).length);
        } finally {
            deleteTree(tmp);
        }
    }

    @Test
    public void withXensVchanProxyTheImageCarriesItItsLoaderAndItsLibraries() throws IOException {
        Path busybox = Path.of("/bin/busybox");
        Assume.assumeTrue("needs busybox-static", Files.isRegularFile(busybox));
        Assume.assumeTrue("needs xen-utils-4.17", Files.isRegularFile(ZoneImage.DEFAULT_VCHAN_PROXY));
        Path tmp = Files.createTempDirectory("xen-image");
        try {
            fakeModules(tmp.resolve("modules"), "6.1.0-test");
            Path kernel = Files.writeString(tmp.resolve("vmlinuz-6.1.0-test"), "not a bzImage");
            ZoneImage img = new ZoneImage(tmp.resolve("cache"), tmp, tmp.resolve("modules"), busybox,
                    ZoneImage.DEFAULT_VCHAN_PROXY);
            ZoneImage.Initramfs ir = img.initramfs(kernel);
            assertEquals(java.util.Set.of("net", "disk", "vchan"), ir.features());
            Map<String, Object[]> e = unpack(ir.path());
            assertTrue(e.keySet().toString(), e.keySet().containsAll(List.of("bin/vchan-socket-proxy", "bin/zk-channel",
                    "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6",
                    "lib/x86_64-linux-gnu/libxenvchan.so.4.17", "lib/x86_64-linux-gnu/libxengnttab.so.1")));
            assertEquals("xen_evtchn\nxen_gntdev\nxen_gntalloc\n", text(e, "etc/zonekeeper/modules.vchan"));
            assertTrue(text(e, "bin/zk-channel").contains("vchan-socket-proxy -m server 0 \"data/vchan/0/$n\" -"));
        } finally {
            deleteTree(tmp);
        }
    }

    @Test
    public void sharedLibrariesAreReadFromTheElfFilesWithoutRunningThem() throws IOException {
        Path ls = Path.of("/bin/ls");
        Assume.assumeTrue(Files.isRegularFile(ls));
        SharedLibraries.Needs n = new SharedLibraries(SharedLibraries.HOST_FOLDERS).of(ls);
        assertEquals("/lib64/ld-linux-x86-64.so.2", n.interpreter().getKey());
        assertTrue(n.libraries().keySet().toString(), n.libraries().containsKey("libc.so.6"));
        IOException e = org.junit.Assert.assertThrows(IOException.class,
                () -> new SharedLibraries(SharedLibraries.HOST_FOLDERS).of(Path.of("/bin/busybox")));
        assertTrue(e.getMessage(), e.getMessage().contains("no ELF interpreter"));
    }
}

package io.zonekeeper.image;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

public class ZoneInitramfsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** A 64-bit ELF header with no program headers: enough to pass for a static busybox. */
    static Path fakeStaticBusybox(Path dir) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1});
        b.putLong(0x20, 64);
        b.putShort(0x36, (short) 56);
        b.putShort(0x38, (short) 0);
        Path p = dir.resolve("busybox");
        Files.write(p, b.array());
        return p;
    }

    /** The archive read back with Commons Compress: name to {entry, data}; every entry must be newc. */
    static Map<String, Object[]> read(Path cpioGz) throws IOException {
        Map<String, Object[]> entries = new LinkedHashMap<>();
        try (InputStream in = new CpioArchiveInputStream(new GZIPInputStream(Files.newInputStream(cpioGz)))) {
            CpioArchiveInputStream cpio = (CpioArchiveInputStream) in;
            CpioArchiveEntry e;
            while ((e = cpio.getNextCPIOEntry()) != null) {
                assertEquals(CpioConstants.FORMAT_NEW, e.getFormat());
                entries.put(e.getName(), new Object[] {e, cpio.readAllBytes()});
            }
        }
        return entries;
    }

    @Test
    public void zoneImageHoldsBusyboxInitModulesAndLoadOrder() throws IOException {
        Path dir = tmp.getRoot().toPath();
        Path bb = fakeStaticBusybox(dir);
        Path ring = Files.write(dir.resolve("virtio_ring.ko"), new byte[] {1, 2, 3});
        Path core = Files.write(dir.resolve("virtio.ko"), new byte[] {4});
        Path cons = Files.write(dir.resolve("virtio_console.ko"), new byte[] {5, 6});
        Map<String, List<KernelModules.Module>> groups = new LinkedHashMap<>();
        groups.put("channels", List.of(new KernelModules.Module("virtio_ring", ring),
                new KernelModules.Module("virtio", core), new KernelModules.Module("virtio_console", cons)));
        groups.put("other", List.of(new KernelModules.Module("virtio_ring", ring)));
        Path out = dir.resolve("out/initramfs.cpio.gz");

        ZoneInitramfs.write(out, bb, Hypervisor.KVM, groups, ZoneInitramfs.Extras.NONE);

        Map<String, Object[]> entries = read(out);
        CpioArchiveEntry init = (CpioArchiveEntry) entries.get("init")[0];
        assertEquals(CpioConstants.C_ISREG | 0755, init.getMode());
        String script = new String((byte[]) entries.get("init")[1], StandardCharsets.UTF_8);
        assertTrue(script.startsWith("#!/bin/busybox sh\n"));
        assertEquals(ZoneInitScript.render(Hypervisor.KVM), script);
        assertTrue(script.contains("zonekeeper: zone $name ready"));
        assertTrue(script.contains("poweroff -f"));
        assertEquals(Files.size(bb), ((byte[]) entries.get("bin/busybox")[1]).length);
        // The guest agent: executable, a static 64-bit ELF (no loader in the image), the bytes the build made.
        CpioArchiveEntry agent = (CpioArchiveEntry) entries.get(ZoneInitramfs.AGENT_PATH)[0];
        assertEquals(CpioConstants.C_ISREG | 0755, agent.getMode());
        byte[] agentBytes = (byte[]) entries.get(ZoneInitramfs.AGENT_PATH)[1];
        assertArrayEquals(ZoneInitramfs.agentBinary(), agentBytes);
        Path agentFile = Files.write(dir.resolve("zk-agent"), agentBytes);
        ZoneInitramfs.checkStaticBusybox(agentFile);
        CpioArchiveEntry sh = (CpioArchiveEntry) entries.get("bin/sh")[0];
        assertTrue(sh.isSymbolicLink());
        assertEquals("busybox", new String((byte[]) entries.get("bin/sh")[1], StandardCharsets.US_ASCII));
        CpioArchiveEntry console = (CpioArchiveEntry) entries.get("dev/console")[0];
        assertTrue(console.isCharacterDevice());
        assertEquals(5, console.getRemoteDeviceMaj());
        assertEquals(1, console.getRemoteDeviceMin());
        assertEquals("virtio_ring\nvirtio\nvirtio_console\n",
                new String((byte[]) entries.get("etc/zonekeeper/modules.channels")[1], StandardCharsets.UTF_8));
        assertEquals(3, ((byte[]) entries.get("lib/modules/virtio_ring.ko")[1]).length);
        assertEquals(2, ((byte[]) entries.get("lib/modules/virtio_console.ko")[1]).length);
        // Every entry has its own inode, or the kernel's unpacker would make hard links of files.
        Set<Long> inodes = new HashSet<>();
        for (Object[] e : entries.values()) {
            assertTrue(inodes.add(((CpioArchiveEntry) e[0]).getInode()));
        }
        try (var s = Files.list(out.getParent())) {
            assertEquals("no temp files left", 1, s.count());
        }
    }

    @Test
    public void anUncompressedImageIsThePlainNewcArchiveOfTheSameEntries() throws IOException {
        Path dir = tmp.getRoot().toPath();
        Path bb = fakeStaticBusybox(dir);
        Path ring = Files.write(dir.resolve("virtio_ring.ko"), new byte[] {1, 2, 3});
        Map<String, List<KernelModules.Module>> groups = Map.of("agent",
                List.of(new KernelModules.Module("virtio_ring", ring)));
        Path gz = dir.resolve("a.cpio.gz");
        Path raw = dir.resolve("a.cpio");
        ZoneInitramfs.write(gz, bb, Hypervisor.KVM, groups, ZoneInitramfs.Extras.NONE, true);
        ZoneInitramfs.write(raw, bb, Hypervisor.KVM, groups, ZoneInitramfs.Extras.NONE, false);

        byte[] head = new byte[6];
        try (InputStream in = Files.newInputStream(raw)) {
            assertEquals(6, in.readNBytes(head, 0, 6));
        }
        assertEquals("the newc magic, no gzip header", "070701", new String(head, StandardCharsets.US_ASCII));
        Map<String, Object[]> plain = new LinkedHashMap<>();
        try (CpioArchiveInputStream cpio = new CpioArchiveInputStream(Files.newInputStream(raw))) {
            CpioArchiveEntry e;
            while ((e = cpio.getNextCPIOEntry()) != null) {
                plain.put(e.getName(), new Object[] {e, cpio.readAllBytes()});
            }
        }
        Map<String, Object[]> zipped = read(gz);
        assertEquals(zipped.keySet(), plain.keySet());
        for (String name : zipped.keySet()) {
            assertArrayEquals(name, (byte[]) zipped.get(name)[1], (byte[]) plain.get(name)[1]);
        }
    }

    @Test
    public void appletsAreWhatBusyboxListsLessNamesNoFileInBinCouldHave() throws IOException {
        Path dir = tmp.getRoot().toPath();
        Path lister = dir.resolve("lister");
        Files.writeString(lister, "#!/bin/sh\nprintf 'cat\\nmount\\nsh\\nbusybox\\n../evil\\n.\\n..\\n[\\n[[\\n\\n"
                + "a/b\\n'\n");
        assertTrue(lister.toFile().setExecutable(true));
        assertEquals(List.of("[", "[[", "cat", "mount"), ZoneInitramfs.applets(lister));

        Path failing = dir.resolve("failing");
        Files.writeString(failing, "#!/bin/sh\necho cat\nexit 1\n");
        assertTrue(failing.toFile().setExecutable(true));
        assertEquals("a busybox that fails says nothing", List.of(), ZoneInitramfs.applets(failing));
        assertEquals("one that does not run neither", List.of(), ZoneInitramfs.applets(fakeStaticBusybox(dir)));
        assertEquals(List.of(), ZoneInitramfs.applets(dir.resolve("missing")));
    }

    @Test
    public void theImageCarriesTheHostBusyboxsAppletLinksAndTheExtrasKeepTheirNames() throws IOException {
        Path bb = Path.of("/bin/busybox");
        try {
            ZoneInitramfs.checkStaticBusybox(bb);
        } catch (IOException e) {
            org.junit.Assume.assumeNoException("needs the host's static busybox", e);
        }
        List<String> applets = ZoneInitramfs.applets(bb);
        assertTrue("busybox lists mount: " + applets, applets.contains("mount"));
        Path out = tmp.getRoot().toPath().resolve("xen.cpio");
        ZoneInitramfs.write(out, bb, Hypervisor.XEN, Map.of(),
                image -> image.file("bin/cat", 0755, "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8)), false);
        Map<String, Object[]> entries = new LinkedHashMap<>();
        try (CpioArchiveInputStream cpio = new CpioArchiveInputStream(Files.newInputStream(out))) {
            CpioArchiveEntry e;
            while ((e = cpio.getNextCPIOEntry()) != null) {
                entries.put(e.getName(), new Object[] {e, cpio.readAllBytes()});
            }
        }
        for (String a : applets) {
            CpioArchiveEntry e = (CpioArchiveEntry) entries.get("bin/" + a)[0];
            if (a.equals("cat")) {
                assertTrue("the extras' own bin/cat stays", e.isRegularFile());
            } else {
                assertTrue(a, e.isSymbolicLink());
                assertEquals("busybox", new String((byte[]) entries.get("bin/" + a)[1], StandardCharsets.UTF_8));
            }
        }
        // The init makes the links itself only where the image has none.
        assertTrue(ZoneInitScript.render(Hypervisor.XEN).contains("[ -e /bin/mount ] || /bin/busybox --install -s /bin"));
    }

    @Test
    public void probeImagePrintsMarkerAndPowersOff() throws IOException {
        Path dir = tmp.getRoot().toPath();
        Path out = dir.resolve("probe.cpio.gz");
        ZoneInitramfs.writeProbe(out, fakeStaticBusybox(dir), "zonekeeper: probe ok");
        String script = new String((byte[]) read(out).get("init")[1], StandardCharsets.UTF_8);
        assertTrue(script, script.contains("echo 'zonekeeper: probe ok'"));
        assertTrue(script.indexOf("echo") < script.indexOf("poweroff -f"));
    }

    @Test
    public void refusesMarkerThatWouldNeedShellQuoting() {
        try {
            ZoneInitScript.probe("x'; reboot; '");
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("marker"));
        }
    }

    @Test
    public void refusesDynamicBusybox() throws IOException {
        Path ls = Path.of("/bin/ls");
        org.junit.Assume.assumeTrue(Files.isRegularFile(ls));
        try {
            ZoneInitramfs.writeProbe(tmp.getRoot().toPath().resolve("p"), ls, "m");
            fail("/bin/ls is dynamically linked");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("busybox-static"));
        }
        assertTrue(!Files.exists(tmp.getRoot().toPath().resolve("p")));
    }

    @Test
    public void xenImageCarriesTheXenInitTheDriversExtrasAndTheirFolders() throws IOException {
        Path dir = tmp.getRoot().toPath();
        Path out = dir.resolve("xen.cpio.gz");
        ZoneInitramfs.write(out, fakeStaticBusybox(dir), Hypervisor.XEN, Map.of(), image -> {
            image.file("sbin/poweroff", 0755, "#!/bin/busybox sh\n".getBytes(StandardCharsets.UTF_8));
            image.file("lib64/ld-linux-x86-64.so.2", 0755, new byte[] {7});
            image.file("lib/x86_64-linux-gnu/libc.so.6", 0755, new byte[] {8});
        });
        Map<String, Object[]> entries = read(out);
        assertEquals(ZoneInitScript.render(Hypervisor.XEN),
                new String((byte[]) entries.get("init")[1], StandardCharsets.UTF_8));
        List<String> names = List.copyOf(entries.keySet());
        for (String folder : List.of("sbin", "mnt", "lib64", "lib/x86_64-linux-gnu")) {
            CpioArchiveEntry e = (CpioArchiveEntry) entries.get(folder)[0];
            assertTrue(folder, e.isDirectory());
        }
        assertTrue("a folder comes before what is in it", names.indexOf("lib64")
                < names.indexOf("lib64/ld-linux-x86-64.so.2"));
        assertTrue(names.indexOf("lib/x86_64-linux-gnu") < names.indexOf("lib/x86_64-linux-gnu/libc.so.6"));
        assertEquals("each folder once", names.size(), new HashSet<>(names).size());
    }

    @Test
    public void compressedModulesArePackedUnpacked() throws IOException {
        Path dir = tmp.getRoot().toPath();
        byte[] body = "module body".getBytes(StandardCharsets.UTF_8);
        Path xz = dir.resolve("a.ko.xz");
        try (OutputStream o = new XZOutputStream(Files.newOutputStream(xz), new LZMA2Options())) {
            o.write(body);
        }
        Path gz = dir.resolve("b.ko.gz");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
            o.write(body);
        }
        Path out = dir.resolve("m.cpio.gz");
        ZoneInitramfs.write(out, fakeStaticBusybox(dir), Hypervisor.KVM, Map.of("disk",
                List.of(new KernelModules.Module("a", xz), new KernelModules.Module("b", gz))), ZoneInitramfs.Extras.NONE);
        Map<String, Object[]> entries = read(out);
        assertArrayEquals(body, (byte[]) entries.get("lib/modules/a.ko")[1]);
        assertArrayEquals(body, (byte[]) entries.get("lib/modules/b.ko")[1]);
        Path zst = Files.write(dir.resolve("c.ko.zst"), body);
        IOException e = assertThrows(IOException.class, () -> ZoneInitramfs.write(dir.resolve("z.cpio.gz"),
                fakeStaticBusybox(dir), Hypervisor.KVM, Map.of("disk", List.of(new KernelModules.Module("c", zst))),
                ZoneInitramfs.Extras.NONE));
        assertTrue(e.getMessage(), e.getMessage().contains("cannot unpack"));
        assertFalse("nothing written for a refused image", Files.exists(dir.resolve("z.cpio.gz")));
    }

    @Test
    public void refusesAFeatureNameTheInitCouldNotUseAndWritesNothing() throws IOException {
        Path dir = tmp.getRoot().toPath();
        IOException e = assertThrows(IOException.class, () -> ZoneInitramfs.write(dir.resolve("f.cpio.gz"),
                fakeStaticBusybox(dir), Hypervisor.XEN, Map.of("../x", List.of()), ZoneInitramfs.Extras.NONE));
        assertTrue(e.getMessage(), e.getMessage().contains("feature name '../x'"));
        assertFalse(Files.exists(dir.resolve("f.cpio.gz")));
    }
}

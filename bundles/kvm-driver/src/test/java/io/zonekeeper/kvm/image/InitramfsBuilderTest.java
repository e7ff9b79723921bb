package io.zonekeeper.kvm.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.InputStream;
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

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class InitramfsBuilderTest {
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

    private static Map<String, Object[]> read(Path cpioGz) throws IOException {
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

        new InitramfsBuilder(bb).writeZone(out, groups);

        Map<String, Object[]> entries = read(out);
        CpioArchiveEntry init = (CpioArchiveEntry) entries.get("init")[0];
        assertEquals(CpioConstants.C_ISREG | 0755, init.getMode());
        String script = new String((byte[]) entries.get("init")[1], StandardCharsets.UTF_8);
        assertTrue(script.startsWith("#!/bin/busybox sh\n"));
        assertTrue(script.contains("zonekeeper: zone $name ready"));
        assertTrue(script.contains("poweroff -f"));
        assertEquals(Files.size(bb), ((byte[]) entries.get("bin/busybox")[1]).length);
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
    public void probeImagePrintsMarkerAndPowersOff() throws IOException {
        Path dir = tmp.getRoot().toPath();
        Path out = dir.resolve("probe.cpio.gz");
        new InitramfsBuilder(fakeStaticBusybox(dir)).writeProbe(out, "zonekeeper: probe ok");
        String script = new String((byte[]) read(out).get("init")[1], StandardCharsets.UTF_8);
        assertTrue(script, script.contains("echo 'zonekeeper: probe ok'"));
        assertTrue(script.indexOf("echo") < script.indexOf("poweroff -f"));
    }

    @Test
    public void refusesMarkerThatWouldNeedShellQuoting() {
        try {
            InitramfsBuilder.probeInitScript("x'; reboot; '");
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
            new InitramfsBuilder(ls).writeProbe(tmp.getRoot().toPath().resolve("p"), "m");
            fail("/bin/ls is dynamically linked");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("busybox-static"));
        }
        assertTrue(!Files.exists(tmp.getRoot().toPath().resolve("p")));
    }
}

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
import java.util.Map;
import java.util.zip.GZIPInputStream;

import org.junit.Assume;
import org.junit.Test;

public class ZoneImageTest {

    /** Reads a newc archive back: name to {mode, data}; checks magic and alignment on the way. */
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
                assertEquals(a.length, p);
                return out;
            }
            out.put(name, new Object[] {mode, data, rdevMajor});
        }
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }

    @Test
    public void cpioEntriesAreNewcAndAligned() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        CpioWriter w = new CpioWriter(b);
        w.directory("bin", 0755);
        w.file("bin/x", 0755, "12345".getBytes());
        w.symlink("bin/sh", "busybox");
        w.charDevice("dev/console", 0600, 5, 1);
        w.finish();
        Map<String, Object[]> e = read(b.toByteArray());
        assertEquals(java.util.List.of("bin", "bin/x", "bin/sh", "dev/console"), java.util.List.copyOf(e.keySet()));
        assertEquals(0040755, e.get("bin")[0]);
        assertEquals("12345", new String((byte[]) e.get("bin/x")[1]));
        assertEquals(0120777, e.get("bin/sh")[0]);
        assertEquals("busybox", new String((byte[]) e.get("bin/sh")[1]));
        assertEquals(0020600, e.get("dev/console")[0]);
        assertEquals(5, e.get("dev/console")[2]);
    }

    @Test
    public void theZoneInitramfsHasBusyboxInitAndPoweroff() throws IOException {
        Path busybox = Path.of("/bin/busybox");
        Assume.assumeTrue("needs busybox-static", Files.isRegularFile(busybox));
        Path cache = Files.createTempDirectory("xen-image");
        try {
            ZoneImage img = new ZoneImage(cache, Path.of("/boot"), busybox);
            Path p = img.initramfs();
            assertEquals("cached: a second call builds nothing", p, img.initramfs());
            byte[] raw;
            try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
                raw = in.readAllBytes();
            }
            Map<String, Object[]> e = read(raw);
            assertTrue(e.keySet().toString(), e.keySet().containsAll(java.util.List.of("init", "bin/busybox",
                    "sbin/poweroff", "dev/console")));
            String init = new String((byte[]) e.get("init")[1], StandardCharsets.UTF_8);
            assertTrue(init.contains("zonekeeper: zone $name ready"));
            assertEquals(Files.size(busybox), ((byte[]) e.get("bin/busybox")[1]).length);
        } finally {
            try (var s = Files.walk(cache)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    @Test
    public void kernelsCompareByVersionNumbers() {
        assertTrue(ZoneImage.compareVersions("vmlinuz-6.1.0-56-amd64", "vmlinuz-6.1.0-9-amd64") > 0);
    }
}

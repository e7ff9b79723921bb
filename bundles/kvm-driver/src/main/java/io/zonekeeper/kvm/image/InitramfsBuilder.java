package io.zonekeeper.kvm.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
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
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;
import org.tukaani.xz.XZInputStream;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * Writes a zone's initramfs, a gzip'd newc cpio, from Java: a static busybox, the kernel modules of the features
 * a zone may need, and the zone init script ({@code zone-init.sh}). Which features a zone actually loads is
 * chosen per boot on the kernel command line ({@code zk.features=}), so one image serves every zone of a kernel.
 */
public final class InitramfsBuilder {
    /** The init script's line once a zone is up; {@code %s} is the zone name. */
    public static final String READY_MARKER = "zonekeeper: zone %s ready";
    private static final Pattern SAFE_MARKER = Pattern.compile("[A-Za-z0-9 :._-]{1,80}");
    private static final Pattern GROUP = Pattern.compile("[a-z0-9_]{1,32}");

    private final Path busybox;
    private long inode = 1;

    public InitramfsBuilder(Path busybox) {
        this.busybox = busybox;
    }

    /** The zone init script, as packed into every zone image. */
    public static String zoneInitScript() {
        try (InputStream in = InitramfsBuilder.class.getResourceAsStream("zone-init.sh")) {
            if (in == null) {
                throw new IllegalStateException("zone-init.sh is missing from the bundle");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A probe image: its init prints {@code marker} on the console and powers off at once. */
    public static String probeInitScript(String marker) {
        if (!SAFE_MARKER.matcher(marker).matches()) {
            throw new IllegalArgumentException("probe marker must be letters, digits, spaces or :._- : " + marker);
        }
        return "#!/bin/busybox sh\n/bin/busybox echo '" + marker + "'\n/bin/busybox poweroff -f\n";
    }

    /**
     * Writes a zone image to {@code target} (atomically).
     *
     * @param groups feature name to the modules it needs, in load order, all taken from {@code modules}
     */
    public void writeZone(Path target, Map<String, List<KernelModules.Module>> groups) throws IOException {
        checkBusybox(busybox);
        AtomicFiles.write(target, out -> {
            try (CpioArchiveOutputStream cpio = open(out)) {
                skeleton(cpio);
                file(cpio, "init", 0755, zoneInitScript().getBytes(StandardCharsets.UTF_8));
                dir(cpio, "etc/zonekeeper");
                dir(cpio, "lib");
                dir(cpio, "lib/modules");
                Set<String> packed = new HashSet<>();
                for (Map.Entry<String, List<KernelModules.Module>> g : groups.entrySet()) {
                    if (!GROUP.matcher(g.getKey()).matches()) {
                        throw new IOException("feature name '" + g.getKey() + "' is not [a-z0-9_]");
                    }
                    StringBuilder order = new StringBuilder();
                    for (KernelModules.Module m : g.getValue()) {
                        if (packed.add(m.name())) {
                            file(cpio, "lib/modules/" + m.name() + ".ko", 0644, moduleBytes(m.file()));
                        }
                        order.append(m.name()).append('\n');
                    }
                    file(cpio, "etc/zonekeeper/modules." + g.getKey(), 0644,
                            order.toString().getBytes(StandardCharsets.UTF_8));
                }
            }
        });
    }

    /** Writes the probe image for the accelerator self-test to {@code target} (atomically). */
    public void writeProbe(Path target, String marker) throws IOException {
        checkBusybox(busybox);
        String script = probeInitScript(marker);
        AtomicFiles.write(target, out -> {
            try (CpioArchiveOutputStream cpio = open(out)) {
                skeleton(cpio);
                file(cpio, "init", 0755, script.getBytes(StandardCharsets.UTF_8));
            }
        });
    }

    private CpioArchiveOutputStream open(OutputStream out) throws IOException {
        return new CpioArchiveOutputStream(new GZIPOutputStream(out, 1 << 16), CpioConstants.FORMAT_NEW);
    }

    private void skeleton(CpioArchiveOutputStream cpio) throws IOException {
        for (String d : new String[] {"bin", "dev", "proc", "sys", "tmp", "run", "etc"}) {
            dir(cpio, d);
        }
        // The kernel opens /dev/console for init's output before init runs, so the node must be in the image.
        CpioArchiveEntry console = entry("dev/console", CpioConstants.C_ISCHR | 0600);
        console.setRemoteDeviceMaj(5);
        console.setRemoteDeviceMin(1);
        cpio.putArchiveEntry(console);
        cpio.closeArchiveEntry();
        file(cpio, "bin/busybox", 0755, Files.readAllBytes(busybox));
        for (String applet : new String[] {"sh"}) {
            symlink(cpio, "bin/" + applet, "busybox");
        }
    }

    private CpioArchiveEntry entry(String name, int mode) {
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, name);
        e.setMode(mode);
        e.setInode(inode++);
        e.setNumberOfLinks((mode & CpioConstants.S_IFMT) == CpioConstants.C_ISDIR ? 2 : 1);
        e.setTime(0);
        return e;
    }

    private void dir(CpioArchiveOutputStream cpio, String name) throws IOException {
        cpio.putArchiveEntry(entry(name, CpioConstants.C_ISDIR | 0755));
        cpio.closeArchiveEntry();
    }

    private void file(CpioArchiveOutputStream cpio, String name, int perm, byte[] data) throws IOException {
        CpioArchiveEntry e = entry(name, CpioConstants.C_ISREG | perm);
        e.setSize(data.length);
        cpio.putArchiveEntry(e);
        cpio.write(data);
        cpio.closeArchiveEntry();
    }

    private void symlink(CpioArchiveOutputStream cpio, String name, String target) throws IOException {
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        CpioArchiveEntry e = entry(name, CpioConstants.C_ISLNK | 0777);
        e.setSize(t.length);
        cpio.putArchiveEntry(e);
        cpio.write(t);
        cpio.closeArchiveEntry();
    }

    /** busybox's insmod takes plain .ko files only, so compressed modules are unpacked here. */
    private static byte[] moduleBytes(Path ko) throws IOException {
        String n = ko.getFileName().toString();
        if (n.endsWith(".ko")) {
            return Files.readAllBytes(ko);
        }
        try (InputStream raw = Files.newInputStream(ko)) {
            InputStream in;
            if (n.endsWith(".ko.xz")) {
                in = new XZInputStream(raw);
            } else if (n.endsWith(".ko.gz")) {
                in = new GZIPInputStream(raw);
            } else {
                throw new IOException("module " + ko + " is compressed in a way the zone image cannot unpack");
            }
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            in.transferTo(buf);
            return buf.toByteArray();
        }
    }

    /** The zone image has no libraries, so a dynamically linked busybox would not even start. */
    static void checkBusybox(Path busybox) throws IOException {
        if (!Files.isRegularFile(busybox)) {
            throw new IOException(busybox + " not found: install the busybox-static package");
        }
        byte[] h;
        try (InputStream in = Files.newInputStream(busybox)) {
            h = in.readNBytes(64);
        }
        if (h.length < 64 || h[0] != 0x7F || h[1] != 'E' || h[2] != 'L' || h[3] != 'F' || h[4] != 2) {
            throw new IOException(busybox + " is not a 64-bit ELF executable");
        }
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        long phoff = b.getLong(0x20);
        int phentsize = Short.toUnsignedInt(b.getShort(0x36));
        int phnum = Short.toUnsignedInt(b.getShort(0x38));
        try (var ch = java.nio.channels.FileChannel.open(busybox)) {
            ByteBuffer ph = ByteBuffer.allocate(phentsize * phnum).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(ph, phoff);
            for (int i = 0; i < phnum; i++) {
                if (ph.getInt(i * phentsize) == 3 /* PT_INTERP */) {
                    throw new IOException(busybox + " is dynamically linked and cannot run in a zone image:"
                            + " install the busybox-static package");
                }
            }
        }
    }

    /** The module groups a zone image carries, by feature: what the init loads for {@code zk.features=}. */
    public static Map<String, List<String>> standardFeatures() {
        Map<String, List<String>> f = new LinkedHashMap<>();
        f.put("power", List.of("evdev", "button"));
        f.put("channels", List.of("virtio_mmio", "virtio_console"));
        // virtio_net needs failover and net_failover (modules.dep); ext4 needs crc32c first (modules.softdep).
        f.put("net", List.of("virtio_mmio", "virtio_net"));
        f.put("disk", List.of("virtio_mmio", "virtio_blk", "ext4"));
        // On q35 virtio is on PCI; the groups above still name virtio_mmio, which finds nothing there (a few ms).
        f.put("vpci", List.of("virtio_pci"));
        // Built into Debian's kernel (so nothing to insert there); modules on kernels that build them so.
        f.put("tpm", List.of("tpm_tis", "tpm_crb"));
        return f;
    }
}

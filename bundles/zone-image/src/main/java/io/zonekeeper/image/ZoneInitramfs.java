package io.zonekeeper.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import org.tukaani.xz.XZInputStream;

/**
 * Writes a zone's initramfs: a static busybox, the guest agent ({@code /bin/zk-agent}), the zone init for its
 * hypervisor, the kernel modules of the features
 * a zone may need, each group's load order in {@code /etc/zonekeeper/modules.FEATURE}, and whatever else the driver
 * adds. Which features a zone loads is chosen per boot ({@code zk.features=}), so one image serves every zone of a
 * kernel.
 */
public final class ZoneInitramfs {
    private static final Pattern FEATURE = Pattern.compile("[a-z0-9_]{1,32}");
    private static final List<String> FOLDERS = List.of("bin", "sbin", "dev", "proc", "sys", "tmp", "run", "etc",
            "etc/zonekeeper", "lib", "lib/modules", "mnt");

    /** What a driver adds to its zone image beyond busybox, the init and the modules. */
    @FunctionalInterface
    public interface Extras {
        void write(InitramfsWriter image) throws IOException;

        Extras NONE = image -> {
        };
    }

    private ZoneInitramfs() {
    }

    /** Writes a gzip'd zone image for {@code hypervisor} to {@code target} (atomically). */
    public static void write(Path target, Path busybox, Hypervisor hypervisor,
            Map<String, List<KernelModules.Module>> groups, Extras extras) throws IOException {
        write(target, busybox, hypervisor, groups, extras, true);
    }

    /**
     * Writes a zone image for {@code hypervisor} to {@code target} (atomically), gzip'd when {@code gzip}. Besides
     * busybox it holds busybox's applet links in {@code /bin} where busybox lists them ({@link #applets}), so the
     * init need not make them at each boot.
     */
    public static void write(Path target, Path busybox, Hypervisor hypervisor,
            Map<String, List<KernelModules.Module>> groups, Extras extras, boolean gzip) throws IOException {
        checkStaticBusybox(busybox);
        for (String g : groups.keySet()) {
            if (!FEATURE.matcher(g).matches()) {
                throw new IOException("feature name '" + g + "' is not [a-z0-9_]");
            }
        }
        String init = ZoneInitScript.render(hypervisor);
        List<String> applets = applets(busybox);
        ImageFiles.writeAtomically(target, out -> {
            try (InitramfsWriter w = new InitramfsWriter(out, gzip)) {
                skeleton(w, busybox, init);
                w.file(AGENT_PATH, 0755, agentBinary());
                Set<String> packed = new HashSet<>();
                for (Map.Entry<String, List<KernelModules.Module>> g : groups.entrySet()) {
                    StringBuilder order = new StringBuilder();
                    for (KernelModules.Module m : g.getValue()) {
                        if (packed.add(m.name())) {
                            w.file("lib/modules/" + m.name() + ".ko", 0644, moduleBytes(m.file()));
                        }
                        order.append(m.name()).append('\n');
                    }
                    w.file("etc/zonekeeper/modules." + g.getKey(), 0644,
                            order.toString().getBytes(StandardCharsets.UTF_8));
                }
                extras.write(w);
                // After the extras: a file of theirs in /bin keeps its name, as under "busybox --install -s".
                for (String a : applets) {
                    if (!w.contains("bin/" + a)) {
                        w.symlink("bin/" + a, "busybox");
                    }
                }
            }
        });
    }

    /** An applet name as a link in /bin may have it: no slash, no dot-only name. */
    private static final Pattern APPLET = Pattern.compile("[A-Za-z0-9_\\[\\]+-][A-Za-z0-9_.\\[\\]+-]{0,63}");
    /** The most a busybox's applet list may print. */
    private static final int APPLET_LIST_MAX = 64 * 1024;

    /**
     * The applets {@code busybox --list} names, less {@code sh} and {@code busybox} (the image has both), or an empty
     * list when it cannot say (it does not run, fails, takes over 10 s or prints more than 64 KiB): then the zone
     * init makes the links itself, as it always did. Names that could not be a file in /bin are left out.
     */
    static List<String> applets(Path busybox) {
        Path list = null;
        Process p = null;
        try {
            // To a file, not a pipe: a busybox that never closes its output cannot hold this thread past the limit.
            list = Files.createTempFile("zk-applets", ".txt");
            p = new ProcessBuilder(busybox.toString(), "--list")
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(list.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0
                    || Files.size(list) > APPLET_LIST_MAX) {
                return List.of();
            }
            Set<String> names = new java.util.TreeSet<>();
            for (String line : Files.readString(list, StandardCharsets.UTF_8).split("\n")) {
                String a = line.strip();
                if (APPLET.matcher(a).matches() && !a.equals("sh") && !a.equals("busybox")) {
                    names.add(a);
                }
            }
            return List.copyOf(names);
        } catch (IOException | java.io.UncheckedIOException e) {
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        } finally {
            if (p != null) {
                p.destroyForcibly();
            }
            if (list != null) {
                try {
                    Files.deleteIfExists(list);
                } catch (IOException e) {
                    // a temp file left behind; nothing else depends on it
                }
            }
        }
    }

    /** Writes a probe image to {@code target} (atomically): its init prints {@code marker} and powers off. */
    public static void writeProbe(Path target, Path busybox, String marker) throws IOException {
        checkStaticBusybox(busybox);
        String init = ZoneInitScript.probe(marker);
        ImageFiles.writeAtomically(target, out -> {
            try (InitramfsWriter w = new InitramfsWriter(out)) {
                skeleton(w, busybox, init);
            }
        });
    }

    private static void skeleton(InitramfsWriter w, Path busybox, String init) throws IOException {
        for (String d : FOLDERS) {
            w.directory(d);
        }
        // The kernel opens /dev/console for init's output before init runs, so the node must be in the image.
        w.charDevice("dev/console", 0600, 5, 1);
        w.file("bin/busybox", 0755, Files.readAllBytes(busybox));
        w.symlink("bin/sh", "busybox");
        w.file("init", 0755, init.getBytes(StandardCharsets.UTF_8));
    }

    /** The guest agent's path in a zone image; the zone init starts it. */
    public static final String AGENT_PATH = "bin/zk-agent";

    /**
     * The guest agent (src/main/c/zk-agent.c, built by this module's Maven build with musl-gcc), as packed into the
     * zone images. Its bytes go into the image key too, so a new agent gives a new image.
     */
    public static byte[] agentBinary() {
        try (InputStream in = ZoneInitramfs.class.getResourceAsStream("zk-agent")) {
            if (in == null) {
                throw new IllegalStateException("zk-agent is missing from the zone-image library: it is built by"
                        + " the zone-image module's Maven build with musl-gcc (Debian's musl-tools)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("zk-agent unreadable in the zone-image library: " + e.getMessage(), e);
        }
    }

    /** busybox's insmod takes plain .ko files only, so compressed modules are unpacked here. */
    static byte[] moduleBytes(Path ko) throws IOException {
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

    /** The zone image has no libraries for busybox, so a dynamically linked one would not even start. */
    public static void checkStaticBusybox(Path busybox) throws IOException {
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
        try (FileChannel ch = FileChannel.open(busybox)) {
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
}

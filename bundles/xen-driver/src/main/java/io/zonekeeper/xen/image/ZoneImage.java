package io.zonekeeper.xen.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * The default image of Xen zones: the host's newest kernel (a PV or PVH guest boots the bzImage as it is) and an
 * initramfs of busybox and the zone init, built once per kernel release and cached. The Xen console is built into
 * Debian's kernel, but the frontends are modules: the image carries them in groups (features), and each zone loads
 * only the groups its spec needs ({@code zk.features=}):
 * <ul>
 * <li>{@code net}: xen-netfront;</li>
 * <li>{@code disk}: xen-blkfront and ext4, with what modules.dep and modules.softdep say ext4 needs;</li>
 * <li>{@code vchan}: the grant and event channel devices, and Xen's own {@code vchan-socket-proxy} with its shared
 * libraries, which {@code zk-channel NAME} runs as the zone's end of a channel.</li>
 * </ul>
 * A group the host cannot give (a module missing, no vchan-socket-proxy) is left out and {@link Initramfs#missing}
 * says why, so that the driver refuses a spec that needs it before xl runs.
 */
public final class ZoneImage {
    public static final String NET = "net";
    public static final String DISK = "disk";
    public static final String VCHAN = "vchan";
    /** Where Debian's xen-utils-4.17 installs the vchan proxy. */
    public static final Path DEFAULT_VCHAN_PROXY = Path.of("/usr/lib/xen-4.17/bin/vchan-socket-proxy");
    private static final int FORMAT = 2;
    private static final Map<String, List<String>> GROUPS = Map.of(NET, List.of("xen-netfront"), DISK,
            List.of("xen-blkfront", "ext4"), VCHAN, List.of("xen-evtchn", "xen-gntdev", "xen-gntalloc"));

    /**
     * A zone initramfs.
     *
     * @param path     the cached file
     * @param release  the kernel release whose modules it carries, or "" when unknown
     * @param features the groups it carries
     * @param missing  the groups it lacks, each with the reason
     */
    public record Initramfs(Path path, String release, Set<String> features, Map<String, String> missing) {
        public Initramfs {
            features = Set.copyOf(features);
            missing = Map.copyOf(missing);
        }
    }

    private final Path cacheDir;
    private final Path bootDir;
    private final Path modulesRoot;
    private final Path busybox;
    private final Path vchanProxy;
    private final Map<String, Initramfs> built = new HashMap<>();

    public ZoneImage(Path cacheDir, Path bootDir, Path modulesRoot, Path busybox, Path vchanProxy) {
        this.cacheDir = cacheDir;
        this.bootDir = bootDir;
        this.modulesRoot = modulesRoot;
        this.busybox = busybox;
        this.vchanProxy = vchanProxy;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    public static String initScript() {
        return resource("zone-init.sh");
    }

    static String poweroffScript() {
        return resource("poweroff.sh");
    }

    static String channelScript() {
        return resource("zk-channel.sh");
    }

    private static String resource(String name) {
        try (InputStream in = ZoneImage.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the xen-driver bundle");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + name + " from the xen-driver bundle", e);
        }
    }

    /** The newest {@code vmlinuz-*} in the boot folder, by version. */
    public Path newestKernel() throws IOException {
        List<Path> found = new ArrayList<>();
        if (Files.isDirectory(bootDir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(bootDir, "vmlinuz-*")) {
                ds.forEach(p -> {
                    if (Files.isRegularFile(p)) {
                        found.add(p);
                    }
                });
            }
        }
        return found.stream().max((a, b) -> compareVersions(a.getFileName().toString(), b.getFileName().toString()))
                .orElseThrow(() -> new IOException("no kernel vmlinuz-* in " + bootDir
                        + ": install linux-image-amd64 or set defaultKernel"));
    }

    /**
     * The release of a kernel: from its bzImage header (the version string the setup header points to), else
     * from a {@code vmlinuz-RELEASE} file name, else "".
     */
    public static String kernelRelease(Path kernel) {
        try (FileChannel ch = FileChannel.open(kernel)) {
            ByteBuffer h = ByteBuffer.allocate(0x210).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(h, 0);
            if (h.position() >= 0x210 && h.getInt(0x202) == 0x53726448) { // "HdrS"
                int at = Short.toUnsignedInt(h.getShort(0x20e));
                if (at != 0) {
                    ByteBuffer v = ByteBuffer.allocate(128);
                    ch.read(v, at + 0x200L);
                    String s = new String(v.array(), 0, v.position(), StandardCharsets.US_ASCII);
                    String first = s.split("[\\s\\x00]", 2)[0];
                    if (!first.isEmpty()) {
                        return first;
                    }
                }
            }
        } catch (IOException e) {
            // fall back to the name
        }
        String f = kernel.getFileName().toString();
        return f.startsWith("vmlinuz-") ? f.substring("vmlinuz-".length()) : "";
    }

    /** The zone initramfs for {@code kernel}, built into the cache when it is not there yet. */
    public synchronized Initramfs initramfs(Path kernel) throws IOException {
        if (!Files.isRegularFile(busybox)) {
            throw new IOException("busybox " + busybox + " does not exist: install busybox-static, or give the zone"
                    + " an initramfs of its own");
        }
        String release = kernelRelease(kernel);
        Map<String, List<KernelModules.Module>> groups = new LinkedHashMap<>();
        Map<String, String> missing = new LinkedHashMap<>();
        Path modDir = release.isEmpty() ? null : modulesRoot.resolve(release);
        KernelModules modules = null;
        if (modDir == null) {
            GROUPS.keySet().forEach(g -> missing.put(g, "the release of kernel " + kernel + " is unknown"));
        } else {
            try {
                modules = KernelModules.load(modDir);
            } catch (IOException e) {
                for (String g : GROUPS.keySet()) {
                    missing.put(g, e.getMessage());
                }
            }
        }
        if (modules != null) {
            for (String g : List.of(NET, DISK, VCHAN)) {
                try {
                    List<KernelModules.Module> list = modules.resolve(GROUPS.get(g));
                    for (KernelModules.Module m : list) {
                        if (!m.file().getFileName().toString().endsWith(".ko")) {
                            throw new IOException("module " + m.file() + " is compressed; the zone image packs plain"
                                    + " .ko files");
                        }
                    }
                    groups.put(g, list);
                } catch (IOException e) {
                    missing.put(g, e.getMessage());
                }
            }
        }
        SharedLibraries.Needs proxy = null;
        if (groups.containsKey(VCHAN)) {
            if (!Files.isRegularFile(vchanProxy)) {
                groups.remove(VCHAN);
                missing.put(VCHAN, vchanProxy + " does not exist (install xen-utils-4.17)");
            } else {
                try {
                    proxy = new SharedLibraries(SharedLibraries.HOST_FOLDERS).of(vchanProxy);
                } catch (IOException e) {
                    groups.remove(VCHAN);
                    missing.put(VCHAN, e.getMessage());
                }
            }
        }
        String key = key(groups, proxy);
        Initramfs known = built.get(key);
        if (known != null && Files.isRegularFile(known.path())) {
            return known;
        }
        Path p = cacheDir.resolve("zone-initramfs-" + (release.isEmpty() ? "nomodules" : release) + "-" + key
                + ".cpio.gz");
        if (!Files.isRegularFile(p)) {
            SharedLibraries.Needs withProxy = proxy;
            AtomicFiles.write(p, file -> {
                try (OutputStream out = new GZIPOutputStream(file, 1 << 16)) {
                    write(out, groups, withProxy);
                }
            });
        }
        Initramfs made = new Initramfs(p, release, groups.keySet(), missing);
        built.put(key, made);
        return made;
    }

    /** The archive: folders, /dev/console for init's first output, busybox, the scripts, modules, the proxy. */
    void write(OutputStream out, Map<String, List<KernelModules.Module>> groups, SharedLibraries.Needs proxy)
            throws IOException {
        CpioWriter c = new CpioWriter(out);
        for (String d : List.of("bin", "sbin", "dev", "proc", "sys", "tmp", "run", "etc", "etc/zonekeeper", "lib",
                "lib/modules", "mnt")) {
            c.directory(d, 0755);
        }
        c.charDevice("dev/console", 0600, 5, 1);
        c.file("bin/busybox", 0755, Files.readAllBytes(busybox));
        c.symlink("bin/sh", "busybox");
        c.file("init", 0755, initScript().getBytes(StandardCharsets.UTF_8));
        c.file("sbin/poweroff", 0755, poweroffScript().getBytes(StandardCharsets.UTF_8));
        Set<String> packed = new HashSet<>();
        for (Map.Entry<String, List<KernelModules.Module>> g : groups.entrySet()) {
            StringBuilder order = new StringBuilder();
            for (KernelModules.Module m : g.getValue()) {
                if (packed.add(m.name())) {
                    c.file("lib/modules/" + m.name() + ".ko", 0644, Files.readAllBytes(m.file()));
                }
                order.append(m.name()).append('\n');
            }
            c.file("etc/zonekeeper/modules." + g.getKey(), 0644, order.toString().getBytes(StandardCharsets.UTF_8));
        }
        if (proxy != null) {
            c.file("bin/vchan-socket-proxy", 0755, Files.readAllBytes(vchanProxy));
            c.file("bin/zk-channel", 0755, channelScript().getBytes(StandardCharsets.UTF_8));
            Set<String> dirs = new HashSet<>(List.of("lib"));
            String interp = proxy.interpreter().getKey().replaceFirst("^/+", "");
            directories(c, interp, dirs);
            c.file(interp, 0755, Files.readAllBytes(proxy.interpreter().getValue()));
            directories(c, "lib/x86_64-linux-gnu/x", dirs);
            for (Map.Entry<String, Path> lib : proxy.libraries().entrySet()) {
                c.file("lib/x86_64-linux-gnu/" + lib.getKey(), 0755, Files.readAllBytes(lib.getValue()));
            }
        }
        c.finish();
    }

    private static void directories(CpioWriter c, String file, Set<String> made) throws IOException {
        String[] parts = file.split("/");
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < parts.length - 1; i++) {
            d.append(i == 0 ? "" : "/").append(parts[i]);
            if (made.add(d.toString())) {
                c.directory(d.toString(), 0755);
            }
        }
    }

    private String key(Map<String, List<KernelModules.Module>> groups, SharedLibraries.Needs proxy)
            throws IOException {
        List<String> parts = new ArrayList<>();
        parts.add("format " + FORMAT);
        parts.add(initScript());
        parts.add(poweroffScript());
        parts.add(stamp(busybox));
        for (Map.Entry<String, List<KernelModules.Module>> g : groups.entrySet()) {
            parts.add("group " + g.getKey());
            for (KernelModules.Module m : g.getValue()) {
                parts.add(m.name() + " " + stamp(m.file()));
            }
        }
        if (proxy != null) {
            parts.add(channelScript());
            parts.add(stamp(vchanProxy));
            parts.add(stamp(proxy.interpreter().getValue()));
            for (Path lib : proxy.libraries().values()) {
                parts.add(stamp(lib));
            }
        }
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String part : parts) {
                md.update(part.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String stamp(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return file + " " + a.size() + " " + a.lastModifiedTime().toMillis();
    }

    /** Compares names such as vmlinuz-6.1.0-9-amd64 and vmlinuz-6.1.0-56-amd64 number by number. */
    static int compareVersions(String a, String b) {
        String[] x = a.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
        String[] y = b.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c;
            if (!x[i].isEmpty() && !y[i].isEmpty() && Character.isDigit(x[i].charAt(0))
                    && Character.isDigit(y[i].charAt(0))) {
                c = new java.math.BigInteger(x[i]).compareTo(new java.math.BigInteger(y[i]));
            } else {
                c = x[i].compareTo(y[i]);
            }
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    }
}

package io.zonekeeper.kvm.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The zone images of one host, built on demand and cached (in {@code <state>/cache/kvm/}): the uncompressed
 * vmlinux of each kernel, the zone initramfs of each kernel release, and the probe initramfs.
 */
public final class ZoneImages {

    /**
     * What a zone boots.
     *
     * @param kernel     the kernel as named (a bzImage or an ELF)
     * @param bootKernel what QEMU gets as {@code -kernel}: the extracted vmlinux where there is one
     * @param initramfs  the initramfs
     * @param zoneInit   true when the initramfs is ours and runs the zone init (marker, channels, power button)
     * @param features   the module groups the zone init can load ({@code zk.features=})
     * @param release    the kernel release, or "" when unknown
     */
    public record BootImage(Path kernel, Path bootKernel, Path initramfs, boolean zoneInit, Set<String> features,
            String release) {
        public BootImage {
            features = Set.copyOf(features);
        }
    }

    private static final int FORMAT = 1;
    private final Path cacheDir;
    private final Path bootDir;
    private final Path modulesRoot;
    private final Path busybox;
    private final VmlinuxExtractor extractor;
    private final Map<String, Path> initramfsByKey = new HashMap<>();

    public ZoneImages(Path cacheDir, Path bootDir, Path modulesRoot, Path busybox) {
        this.cacheDir = cacheDir;
        this.bootDir = bootDir;
        this.modulesRoot = modulesRoot;
        this.busybox = busybox;
        this.extractor = new VmlinuxExtractor(cacheDir);
    }

    /** The host's defaults: /boot, /lib/modules and /bin/busybox. */
    public static ZoneImages forHost(Path cacheDir) {
        return new ZoneImages(cacheDir, Path.of("/boot"), Path.of("/lib/modules"), Path.of("/bin/busybox"));
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** The newest {@code vmlinuz-*} in the boot folder, by kernel release. */
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
        return found.stream().max((a, b) -> compareVersions(a.getFileName().toString(),
                b.getFileName().toString())).orElseThrow(() -> new IOException("no kernel vmlinuz-* in " + bootDir
                        + ": install linux-image-amd64 or set defaultKernel"));
    }

    /**
     * The image a zone boots: {@code kernel} (or the newest host kernel when null) and {@code initramfs} (or the
     * zone initramfs built for that kernel's release when null).
     */
    public synchronized BootImage image(Path kernel, Path initramfs) throws IOException {
        Path k = kernel != null ? kernel : newestKernel();
        if (!Files.isRegularFile(k)) {
            throw new IOException("kernel " + k + " does not exist or is not a file");
        }
        String release = VmlinuxExtractor.kernelRelease(k).orElse("");
        Path boot = extractor.bootable(k);
        if (initramfs != null) {
            if (!Files.isRegularFile(initramfs)) {
                throw new IOException("initramfs " + initramfs + " does not exist or is not a file");
            }
            return new BootImage(k, boot, initramfs, false, Set.of(), release);
        }
        Map<String, List<KernelModules.Module>> groups = new LinkedHashMap<>();
        Path modDir = release.isEmpty() ? null : modulesRoot.resolve(release);
        if (modDir != null && Files.isRegularFile(modDir.resolve("modules.dep"))) {
            KernelModules modules = KernelModules.load(modDir);
            for (Map.Entry<String, List<String>> f : InitramfsBuilder.standardFeatures().entrySet()) {
                try {
                    groups.put(f.getKey(), modules.resolve(f.getValue()));
                } catch (IOException missing) {
                    // This kernel cannot give the feature; zones that need it are refused by the driver.
                }
            }
        }
        String key = cacheKey(groups);
        Path cached = initramfsByKey.get(key);
        if (cached == null || !Files.isRegularFile(cached)) {
            cached = cacheDir.resolve("initramfs-" + (release.isEmpty() ? "nomodules" : release) + "-" + key
                    + ".cpio.gz");
            if (!Files.isRegularFile(cached)) {
                new InitramfsBuilder(busybox).writeZone(cached, groups);
            }
            initramfsByKey.put(key, cached);
        }
        return new BootImage(k, boot, cached, true, groups.keySet(), release);
    }

    /** The probe image of the accelerator self-test: prints {@code marker}, powers off. */
    public synchronized Path probeInitramfs(String marker) throws IOException {
        String key = digest(List.of("probe", InitramfsBuilder.probeInitScript(marker), stamp(busybox)));
        Path p = cacheDir.resolve("probe-initramfs-" + key + ".cpio.gz");
        if (!Files.isRegularFile(p)) {
            new InitramfsBuilder(busybox).writeProbe(p, marker);
        }
        return p;
    }

    private String cacheKey(Map<String, List<KernelModules.Module>> groups) throws IOException {
        List<String> parts = new ArrayList<>();
        parts.add("format " + FORMAT);
        parts.add(InitramfsBuilder.zoneInitScript());
        parts.add(stamp(busybox));
        for (Map.Entry<String, List<KernelModules.Module>> g : groups.entrySet()) {
            parts.add("group " + g.getKey());
            for (KernelModules.Module m : g.getValue()) {
                parts.add(m.name() + " " + stamp(m.file()));
            }
        }
        return digest(parts);
    }

    private static String stamp(Path file) throws IOException {
        if (!Files.exists(file)) {
            return file + " missing";
        }
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return file + " " + a.size() + " " + a.lastModifiedTime().toMillis();
    }

    private static String digest(List<String> parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) {
                md.update(p.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
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

    /**
     * Whether {@code kernel} is a bzImage (the x86 boot protocol's {@code HdrS} header), which firmware can boot; an
     * ELF vmlinux boots only through its PVH entry.
     */
    public static boolean isBzImage(Path kernel) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(kernel)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4);
            ch.read(b, 0x202);
            return b.position() == 4 && new String(b.array(), StandardCharsets.US_ASCII).equals("HdrS");
        }
    }

    /** Where a kernel's modules would be, for messages. */
    public Optional<Path> modulesOf(String release) {
        return release.isEmpty() ? Optional.empty() : Optional.of(modulesRoot.resolve(release));
    }
}

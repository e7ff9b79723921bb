package io.zonekeeper.xen.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * The default image of Xen zones: the host's newest kernel (a PV or PVH guest boots the bzImage as it is) and a
 * small initramfs of busybox and the zone init, built once per busybox and init script and cached. The kernel's
 * Xen console and frontends are built in, so the initramfs carries no modules.
 */
public final class ZoneImage {
    private final Path cacheDir;
    private final Path bootDir;
    private final Path busybox;

    public ZoneImage(Path cacheDir, Path bootDir, Path busybox) {
        this.cacheDir = cacheDir;
        this.bootDir = bootDir;
        this.busybox = busybox;
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

    /** The zone initramfs, built into the cache when it is not there yet. */
    public synchronized Path initramfs() throws IOException {
        if (!Files.isRegularFile(busybox)) {
            throw new IOException("busybox " + busybox + " does not exist: install busybox-static, or give the zone"
                    + " an initramfs of its own");
        }
        Path p = cacheDir.resolve("zone-initramfs-" + key() + ".cpio.gz");
        if (!Files.isRegularFile(p)) {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, ".zone-initramfs", ".tmp");
            try {
                try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(tmp))) {
                    write(out);
                }
                Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return p;
    }

    /** The archive itself: the folders, /dev/console for init's first output, busybox, init and poweroff. */
    void write(OutputStream out) throws IOException {
        CpioWriter c = new CpioWriter(out);
        for (String d : List.of("bin", "sbin", "dev", "proc", "sys", "tmp", "run", "etc")) {
            c.directory(d, 0755);
        }
        c.charDevice("dev/console", 0600, 5, 1);
        c.file("bin/busybox", 0755, Files.readAllBytes(busybox));
        c.symlink("bin/sh", "busybox");
        c.file("init", 0755, initScript().getBytes(StandardCharsets.UTF_8));
        c.file("sbin/poweroff", 0755, poweroffScript().getBytes(StandardCharsets.UTF_8));
        c.finish();
    }

    private String key() throws IOException {
        BasicFileAttributes a = Files.readAttributes(busybox, BasicFileAttributes.class);
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String part : List.of(initScript(), poweroffScript(),
                    busybox + " " + a.size() + " " + a.lastModifiedTime().toMillis())) {
                md.update(part.getBytes(StandardCharsets.UTF_8));
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
}

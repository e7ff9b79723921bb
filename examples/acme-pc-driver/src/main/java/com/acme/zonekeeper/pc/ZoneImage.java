package com.acme.zonekeeper.pc;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * ACME's zone image: the newest host kernel, and an initramfs of the host's static busybox whose init says the
 * zone is ready on the serial console and then waits. Enough for a zone that proves the driver; a real product
 * would boot its own root disk.
 */
final class ZoneImage {
    /** What the zone init prints once it runs; {@code {name}} is the zone's name. */
    static final String READY = "acme-pc: zone {name} ready";

    private ZoneImage() {
    }

    static String init() {
        return "#!/bin/busybox sh\n"
                + "/bin/busybox mkdir -p /proc /sys /tmp\n"
                + "/bin/busybox mount -t proc proc /proc\n"
                + "echo \"" + READY.replace("{name}", "$acmezone") + "\"\n"
                + "# PID 1 must not exit: the kernel would panic.\n"
                + "while :; do /bin/busybox sleep 3600; done\n";
    }

    /** Writes the initramfs to {@code target} (atomically), from the static busybox at {@code busybox}. */
    static void writeInitramfs(Path busybox, Path target) throws IOException {
        if (!Files.isRegularFile(busybox)) {
            throw new IOException("no static busybox at " + busybox + " (install busybox-static)");
        }
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp); CpioArchive cpio = new CpioArchive(out)) {
            for (String d : List.of("bin", "dev", "proc", "sys", "tmp")) {
                cpio.directory(d);
            }
            cpio.characterDevice("dev/console", 0600, 5, 1);
            cpio.file("bin/busybox", 0755, Files.readAllBytes(busybox));
            cpio.file("init", 0755, init().getBytes(StandardCharsets.UTF_8));
        }
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The newest {@code vmlinuz-*} in {@code boot}. */
    static Path newestKernel(Path boot) throws IOException {
        List<Path> found = new ArrayList<>();
        if (Files.isDirectory(boot)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(boot, "vmlinuz-*")) {
                ds.forEach(found::add);
            }
        }
        return found.stream().filter(Files::isRegularFile).max(Comparator.comparing(ZoneImage::release))
                .orElseThrow(() -> new IOException("no kernel vmlinuz-* in " + boot + " (install linux-image-amd64)"));
    }

    /** {@code vmlinuz-6.1.0-28-amd64} as comparable numbers, so that 6.10 sorts after 6.9. */
    private static String release(Path p) {
        StringBuilder sb = new StringBuilder();
        for (String part : p.getFileName().toString().split("[^0-9]+")) {
            if (!part.isEmpty()) {
                sb.append(String.format("%08d", Long.parseLong(part.length() > 8 ? part.substring(0, 8) : part)));
            }
        }
        return sb.toString();
    }
}

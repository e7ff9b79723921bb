package io.zonekeeper.images;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.zonekeeper.api.image.ImageInfo;

/**
 * Image import time and image size per MiB of layers, with baselines measured in the same run on the same layers:
 * tar2sqfs fed the layers' tars directly (no digest checks, no whiteouts: the floor of this design), and the
 * unpack-as-root route (tar -x, then mksquashfs or mkfs.erofs of the folder). Prints figures, never passes or
 * fails. The layers are tars of this host's folders (python's library and /etc below, its dist-packages above), a
 * stand-in for a Debian-based image, since no registry is reachable.
 *
 * <p>{@code java ... ImageImportBenchmark [runs] [compressor]}
 */
public final class ImageImportBenchmark {
    private static final double MIB = 1 << 20;

    private ImageImportBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        String compressor = args.length > 1 ? args[1] : "zstd";
        Path work = Files.createTempDirectory("zk-image-bench");
        try {
            TestImage image = new TestImage();
            image.layers.add(hostTar("usr/lib/python3.11", "etc"));
            image.layers.add(hostTar("usr/lib/python3"));
            Path layout = work.resolve("layout");
            image.writeOci(layout, "bench:1");
            long tarBytes = image.layers.stream().mapToLong(l -> l.length).sum();
            List<Long> times = new ArrayList<>();
            ImageInfo info = null;
            for (int r = 0; r < runs; r++) {
                Path store = work.resolve("store" + r);
                long t0 = System.nanoTime();
                info = new Images(store, "tar2sqfs", compressor, "").importImage(layout, null);
                times.add((System.nanoTime() - t0) / 1_000_000);
                Images.deleteTree(store);
            }
            double layerMiB = info.layerBytes() / MIB;
            System.out.printf(Locale.ROOT, "image import (%s): %.1f MiB of gzip layers (%.1f MiB as tar), %d runs: "
                    + "median %d ms = %.1f ms per MiB of layers; squashfs %.1f MiB = %.2f MiB per MiB of layers%n",
                    compressor, layerMiB, tarBytes / MIB, runs, median(times), median(times) / layerMiB,
                    info.rootfsBytes() / MIB, info.rootfsBytes() / MIB / layerMiB);

            Path direct = work.resolve("direct.sqfs");
            long t0 = System.nanoTime();
            List<String> direct2sqfs = new ArrayList<>(List.of("tar2sqfs", "--quiet", "--force", "--compressor",
                    compressor));
            if (compressor.equals("zstd")) {
                direct2sqfs.addAll(List.of("--comp-extra", SquashfsPacker.ZSTD_DEFAULT_OPTIONS));
            }
            direct2sqfs.add(direct.toString());
            Process p = new ProcessBuilder(direct2sqfs).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try (OutputStream in = p.getOutputStream()) {
                for (byte[] l : image.layers) {
                    // Each layer without its end-of-archive blocks, so tar2sqfs reads on into the next one.
                    in.write(l, 0, endOfEntries(l));
                }
                in.write(new byte[1024]);
            }
            p.waitFor();
            long directMs = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf(Locale.ROOT, "baseline tar2sqfs fed the layer tars directly (same compressor and level): %d ms, %.1f MiB%n",
                    directMs, Files.size(direct) / MIB);

            Path root = Files.createDirectories(work.resolve("rootfs"));
            t0 = System.nanoTime();
            for (byte[] l : image.layers) {
                Process x = new ProcessBuilder("tar", "-x", "--numeric-owner", "-C", root.toString())
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
                try (OutputStream in = x.getOutputStream()) {
                    in.write(l);
                }
                x.waitFor();
            }
            long unpackMs = (System.nanoTime() - t0) / 1_000_000;
            Path mksq = work.resolve("mksquashfs.sqfs");
            List<String> mksquashfs = new ArrayList<>(List.of("mksquashfs", root.toString(), mksq.toString(), "-comp",
                    compressor, "-quiet", "-no-progress", "-noappend"));
            if (compressor.equals("zstd")) {
                mksquashfs.addAll(List.of("-Xcompression-level", "3"));
            }
            long mksqMs = time(mksquashfs.toArray(String[]::new));
            Path erofs = work.resolve("rootfs.erofs");
            long erofsMs = time("mkfs.erofs", "-zlz4hc", "--quiet", erofs.toString(), root.toString());
            System.out.printf(Locale.ROOT, "baseline unpack (tar -x, %d ms) + mksquashfs -comp %s (same level): %d ms, %.1f MiB; "
                    + "+ mkfs.erofs -zlz4hc: %d ms, %.1f MiB%n", unpackMs, compressor, unpackMs + mksqMs,
                    Files.size(mksq) / MIB, unpackMs + erofsMs, Files.size(erofs) / MIB);
        } finally {
            new ProcessBuilder("rm", "-rf", work.toString()).start().waitFor();
        }
    }

    private static long time(String... cmd) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            System.out.println(cmd[0] + " failed: " + new String(out));
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static byte[] hostTar(String... paths) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("tar", "-c", "--numeric-owner", "-C", "/"));
        cmd.addAll(List.of(paths));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(bytes);
        }
        p.waitFor();
        return bytes.toByteArray();
    }

    /** The length of a tar without its trailing zero blocks. */
    private static int endOfEntries(byte[] tar) {
        int end = tar.length;
        while (end >= 512 && isZero(tar, end - 512)) {
            end -= 512;
        }
        return end;
    }

    private static boolean isZero(byte[] b, int off) {
        for (int i = off; i < off + 512; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static long median(List<Long> values) {
        List<Long> s = values.stream().sorted().toList();
        return s.get(s.size() / 2);
    }
}

package io.zonekeeper.kvm.image;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;

import org.tukaani.xz.SingleXZInputStream;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * Turns a kernel file into something microvm boots through its PVH entry. Debian's vmlinuz is a bzImage whose
 * payload is XZ; the uncompressed ELF vmlinux inside boots about three times faster under TCG than the bzImage,
 * because QEMU jumps straight to the PVH entry instead of running the real-mode decompressor.
 */
public final class VmlinuxExtractor {
    private static final byte[] XZ_MAGIC = {(byte) 0xFD, '7', 'z', 'X', 'Z', 0};
    private static final byte[] ELF_MAGIC = {0x7F, 'E', 'L', 'F'};

    private final Path cacheDir;

    public VmlinuxExtractor(Path cacheDir) {
        this.cacheDir = cacheDir;
    }

    /**
     * The file to hand to QEMU's {@code -kernel}: the kernel itself when it is an ELF already, the cached
     * uncompressed vmlinux when it is a bzImage with an XZ payload, and the bzImage itself otherwise (it still
     * boots, only slower).
     */
    public Path bootable(Path kernel) throws IOException {
        if (!Files.isRegularFile(kernel)) {
            throw new IOException("kernel " + kernel + " does not exist or is not a file");
        }
        byte[] head = readHead(kernel, 4);
        if (startsWith(head, ELF_MAGIC)) {
            return kernel;
        }
        BasicFileAttributes attrs = Files.readAttributes(kernel, BasicFileAttributes.class);
        Path cached = cacheDir.resolve("vmlinux-" + kernel.getFileName() + "-" + attrs.size() + "-"
                + attrs.lastModifiedTime().toMillis());
        if (Files.isRegularFile(cached)) {
            return cached;
        }
        long offset = findXz(kernel);
        if (offset < 0) {
            return kernel;
        }
        AtomicFiles.write(cached, out -> {
            try (InputStream raw = Files.newInputStream(kernel)) {
                raw.skipNBytes(offset);
                // SingleXZInputStream stops at the end of the one stream; the bzImage has other bytes after it.
                try (InputStream xz = new SingleXZInputStream(new BufferedInputStream(raw, 1 << 16))) {
                    xz.transferTo(out);
                }
            }
        });
        byte[] got = readHead(cached, 4);
        if (!startsWith(got, ELF_MAGIC)) {
            Files.deleteIfExists(cached);
            throw new IOException("the XZ payload of " + kernel + " is not an ELF vmlinux");
        }
        return cached;
    }

    /** Offset of the first XZ stream in the file, or -1. */
    static long findXz(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            long base = 0;
            int carry = 0;
            while (true) {
                buf.position(carry);
                int n = ch.read(buf);
                if (n <= 0) {
                    return -1;
                }
                int limit = buf.position();
                byte[] a = buf.array();
                for (int i = 0; i + XZ_MAGIC.length <= limit; i++) {
                    if (matchAt(a, i, XZ_MAGIC)) {
                        return base + i;
                    }
                }
                carry = Math.min(XZ_MAGIC.length - 1, limit);
                System.arraycopy(a, limit - carry, a, 0, carry);
                base += limit - carry;
            }
        }
    }

    /**
     * The kernel release ({@code 6.1.0-56-amd64}) from a bzImage's setup header, or from a file name like
     * {@code vmlinuz-6.1.0-56-amd64}; empty when neither says.
     */
    public static Optional<String> kernelRelease(Path kernel) throws IOException {
        byte[] head = readHead(kernel, 0x8000);
        ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if (head.length > 0x210 && b.getInt(0x202) == 0x53726448 /* "HdrS" */) {
            int ptr = Short.toUnsignedInt(b.getShort(0x20E));
            int at = ptr + 0x200;
            if (ptr != 0 && at < head.length) {
                int end = at;
                while (end < head.length && head[end] != 0 && head[end] != ' ') {
                    end++;
                }
                if (end > at) {
                    return Optional.of(new String(head, at, end - at, StandardCharsets.US_ASCII));
                }
            }
        }
        String name = kernel.getFileName().toString();
        for (String prefix : new String[] {"vmlinuz-", "vmlinux-", "bzImage-"}) {
            if (name.startsWith(prefix) && name.length() > prefix.length()) {
                return Optional.of(name.substring(prefix.length()));
            }
        }
        return Optional.empty();
    }

    private static byte[] readHead(Path file, int max) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(max);
        }
    }

    private static boolean startsWith(byte[] a, byte[] prefix) {
        return a.length >= prefix.length && matchAt(a, 0, prefix);
    }

    private static boolean matchAt(byte[] a, int at, byte[] p) {
        for (int j = 0; j < p.length; j++) {
            if (a[at + j] != p[j]) {
                return false;
            }
        }
        return true;
    }
}

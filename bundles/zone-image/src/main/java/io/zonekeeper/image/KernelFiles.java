package io.zonekeeper.image;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** The host's kernel files: which is the newest, what release each is, whether it is a bzImage. */
public final class KernelFiles {
    private static final int HDRS = 0x53726448; // "HdrS", the x86 boot protocol's setup header magic
    /**
     * What a kernel release may look like. The release becomes part of paths ({@code /lib/modules/RELEASE}, cache
     * names), and a kernel file is not trusted to say where: no slash, no "..", nothing but these characters.
     */
    public static final Pattern RELEASE = Pattern.compile("(?!\\.\\.?$)[A-Za-z0-9._+-]{1,64}");

    private KernelFiles() {
    }

    /** The newest {@code vmlinuz-*} in {@code bootDir}, by the numbers of its name. */
    public static Path newest(Path bootDir) throws IOException {
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
     * The kernel release ({@code 6.1.0-56-amd64}) from a bzImage's setup header (the version string it points to),
     * else from a file name like {@code vmlinuz-6.1.0-56-amd64}; empty when neither says. A file that cannot be
     * read is judged by its name alone. Either must match {@link #RELEASE}; a header whose release does not is not
     * believed, and the release is then unknown.
     */
    public static Optional<String> release(Path kernel) {
        try (FileChannel ch = FileChannel.open(kernel)) {
            ByteBuffer h = ByteBuffer.allocate(0x210).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(h, 0);
            if (h.position() >= 0x210 && h.getInt(0x202) == HDRS) {
                int at = Short.toUnsignedInt(h.getShort(0x20e));
                if (at != 0) {
                    ByteBuffer v = ByteBuffer.allocate(128);
                    ch.read(v, at + 0x200L);
                    String s = new String(v.array(), 0, v.position(), StandardCharsets.US_ASCII);
                    String first = s.split("[\\s\\x00]", 2)[0];
                    if (!first.isEmpty()) {
                        return RELEASE.matcher(first).matches() ? Optional.of(first) : Optional.empty();
                    }
                }
            }
        } catch (IOException e) {
            // judged by the name below
        }
        String name = kernel.getFileName().toString();
        for (String prefix : new String[] {"vmlinuz-", "vmlinux-", "bzImage-"}) {
            if (name.startsWith(prefix) && RELEASE.matcher(name.substring(prefix.length())).matches()) {
                return Optional.of(name.substring(prefix.length()));
            }
        }
        return Optional.empty();
    }

    /**
     * Whether {@code kernel} is a bzImage (the x86 boot protocol's {@code HdrS} header), which firmware can boot; an
     * ELF vmlinux boots only through its PVH entry.
     */
    public static boolean isBzImage(Path kernel) throws IOException {
        try (FileChannel ch = FileChannel.open(kernel)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 0x202);
            return b.position() == 4 && b.getInt(0) == HDRS;
        }
    }

    /** Compares names such as vmlinuz-6.1.0-9-amd64 and vmlinuz-6.1.0-56-amd64 number by number. */
    public static int compareVersions(String a, String b) {
        String[] x = a.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
        String[] y = b.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c;
            if (!x[i].isEmpty() && !y[i].isEmpty() && Character.isDigit(x[i].charAt(0))
                    && Character.isDigit(y[i].charAt(0))) {
                c = new BigInteger(x[i]).compareTo(new BigInteger(y[i]));
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

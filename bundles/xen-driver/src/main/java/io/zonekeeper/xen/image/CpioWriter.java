package io.zonekeeper.xen.image;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs: per entry a 110-byte ASCII
 * header, the name, the data, each padded to four bytes, and a TRAILER!!! entry at the end.
 */
public final class CpioWriter implements AutoCloseable {
    public static final int DIR = 0040000;
    public static final int FILE = 0100000;
    public static final int SYMLINK = 0120000;
    public static final int CHAR_DEVICE = 0020000;

    private final OutputStream out;
    private long written;
    private int inode = 1;

    public CpioWriter(OutputStream out) {
        this.out = out;
    }

    public void directory(String name, int perms) throws IOException {
        entry(name, DIR | perms, new byte[0], 0, 0);
    }

    public void file(String name, int perms, byte[] data) throws IOException {
        entry(name, FILE | perms, data, 0, 0);
    }

    public void symlink(String name, String target) throws IOException {
        entry(name, SYMLINK | 0777, target.getBytes(StandardCharsets.UTF_8), 0, 0);
    }

    public void charDevice(String name, int perms, int major, int minor) throws IOException {
        entry(name, CHAR_DEVICE | perms, new byte[0], major, minor);
    }

    private void entry(String name, int mode, byte[] data, int rdevMajor, int rdevMinor) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder("070701");
        int nlink = (mode & DIR) == DIR && (mode & FILE) != FILE ? 2 : 1;
        for (long field : new long[] {inode++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor,
            n.length + 1, 0}) {
            h.append(String.format("%08x", field));
        }
        put(h.toString().getBytes(StandardCharsets.US_ASCII));
        put(n);
        put(new byte[] {0});
        pad();
        put(data);
        pad();
    }

    private void put(byte[] b) throws IOException {
        out.write(b);
        written += b.length;
    }

    private void pad() throws IOException {
        while (written % 4 != 0) {
            out.write(0);
            written++;
        }
    }

    /** Writes the trailer; the stream stays open. */
    public void finish() throws IOException {
        entry("TRAILER!!!", 0, new byte[0], 0, 0);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}

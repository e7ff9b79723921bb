package com.acme.zonekeeper.pc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs: directories, files, devices. */
final class CpioArchive implements AutoCloseable {
    private static final int DIR = 0040000;
    private static final int FILE = 0100000;
    private static final int CHAR_DEVICE = 0020000;
    private final OutputStream out;
    private long written;
    private int inode = 1;

    CpioArchive(OutputStream out) {
        this.out = out;
    }

    void directory(String path) throws IOException {
        entry(path, DIR | 0755, new byte[0], 0, 0);
    }

    void file(String path, int permissions, byte[] content) throws IOException {
        entry(path, FILE | permissions, content, 0, 0);
    }

    void characterDevice(String path, int permissions, int major, int minor) throws IOException {
        entry(path, CHAR_DEVICE | permissions, new byte[0], major, minor);
    }

    private void entry(String path, int mode, byte[] content, int rdevMajor, int rdevMinor) throws IOException {
        byte[] name = (path + "\0").getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream h = new ByteArrayOutputStream();
        h.writeBytes("070701".getBytes(StandardCharsets.US_ASCII));
        for (long field : new long[] { inode++, mode, 0, 0, (mode & DIR) == DIR ? 2 : 1, 0, content.length, 0, 0,
                rdevMajor, rdevMinor, name.length, 0 }) {
            h.writeBytes(String.format("%08x", field).getBytes(StandardCharsets.US_ASCII));
        }
        write(h.toByteArray());
        write(name);
        pad();
        write(content);
        pad();
    }

    private void write(byte[] b) throws IOException {
        out.write(b);
        written += b.length;
    }

    private void pad() throws IOException {
        while (written % 4 != 0) {
            write(new byte[1]);
        }
    }

    /** Writes the trailer; the caller closes the stream. */
    @Override
    public void close() throws IOException {
        entry("TRAILER!!!", 0, new byte[0], 0, 0);
        out.flush();
    }
}

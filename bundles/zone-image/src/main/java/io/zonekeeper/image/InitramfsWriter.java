package io.zonekeeper.image;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * Writes an initramfs: a cpio archive (gzip'd or not) in the "newc" format the kernel unpacks, owned by root,
 * every entry with its own inode (the kernel's unpacker makes hard links of entries that share one) and time 0, so
 * that the same content gives the same bytes.
 */
public final class InitramfsWriter implements Closeable {
    private final CpioArchiveOutputStream cpio;
    private final Set<String> directories = new HashSet<>();
    /** Every name in the archive: the kernel's unpacker would let a second entry of a name replace the first. */
    private final Set<String> names = new HashSet<>();
    private long inode = 1;

    /** A gzip'd archive. */
    public InitramfsWriter(OutputStream out) throws IOException {
        this(out, true);
    }

    /**
     * An archive, gzip'd when {@code gzip}. Uncompressed, the kernel only copies it out, where it inflates a gzip'd one
     * first: that inflate was about 80 ms of instructions (guest time counted by instructions, QEMU's icount) of a
     * 0.5 s zone boot, about 200 ms on the wall clock under TCG.
     */
    public InitramfsWriter(OutputStream out, boolean gzip) throws IOException {
        // UTF-8: the default (US-ASCII) would write any other character of a name as '?'.
        this.cpio = new CpioArchiveOutputStream(gzip ? new GZIPOutputStream(out, 1 << 16) : out,
                CpioConstants.FORMAT_NEW, CpioConstants.BLOCK_SIZE, StandardCharsets.UTF_8.name());
    }

    /** Whether the archive holds an entry named {@code name} already. */
    public boolean contains(String name) {
        return names.contains(name);
    }

    /** A folder, mode 0755; its parents first where they are not in the archive yet. */
    public void directory(String name) throws IOException {
        if (directories.contains(name)) {
            return;
        }
        parentsOf(name);
        directories.add(name);
        cpio.putArchiveEntry(entry(name, CpioConstants.C_ISDIR | 0755));
        cpio.closeArchiveEntry();
    }

    /** A regular file with permissions {@code perm}; its folders first where they are not in the archive yet. */
    public void file(String name, int perm, byte[] data) throws IOException {
        withData(name, CpioConstants.C_ISREG | perm, data);
    }

    public void symlink(String name, String target) throws IOException {
        withData(name, CpioConstants.C_ISLNK | 0777, target.getBytes(StandardCharsets.UTF_8));
    }

    public void charDevice(String name, int perm, int major, int minor) throws IOException {
        parentsOf(name);
        CpioArchiveEntry e = entry(name, CpioConstants.C_ISCHR | perm);
        e.setRemoteDeviceMaj(major);
        e.setRemoteDeviceMin(minor);
        cpio.putArchiveEntry(e);
        cpio.closeArchiveEntry();
    }

    private void withData(String name, int mode, byte[] data) throws IOException {
        parentsOf(name);
        CpioArchiveEntry e = entry(name, mode);
        e.setSize(data.length);
        cpio.putArchiveEntry(e);
        cpio.write(data);
        cpio.closeArchiveEntry();
    }

    private void parentsOf(String name) throws IOException {
        int slash = name.lastIndexOf('/');
        if (slash > 0) {
            directory(name.substring(0, slash));
        }
    }

    private CpioArchiveEntry entry(String name, int mode) {
        if (name.isEmpty() || name.startsWith("/") || name.endsWith("/") || name.contains("//")
                || name.indexOf('\0') >= 0) {
            // NUL too: the kernel reads a name as a C string and would unpack this entry under a shorter one.
            throw new IllegalArgumentException("initramfs entry '" + name + "' is not a relative path");
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("initramfs entry '" + name + "' is in the archive already");
        }
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, name);
        e.setMode(mode);
        e.setInode(inode++);
        e.setNumberOfLinks((mode & CpioConstants.S_IFMT) == CpioConstants.C_ISDIR ? 2 : 1);
        e.setTime(0);
        return e;
    }

    /** Writes the trailer and closes the stream given. */
    @Override
    public void close() throws IOException {
        cpio.close();
    }
}

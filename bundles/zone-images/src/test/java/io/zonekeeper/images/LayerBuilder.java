package io.zonekeeper.images;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

/** Writes a layer tar in a test, entry by entry, with the owners, modes and names the test asks for. */
final class LayerBuilder {
    private record Item(TarArchiveEntry entry, byte[] data) {
    }

    private final List<Item> items = new ArrayList<>();

    private static TarArchiveEntry entry(String name, byte flag, int mode, int uid) {
        TarArchiveEntry e = new TarArchiveEntry(name, flag, true);
        e.setMode(mode);
        e.setUserId(uid);
        e.setGroupId(uid);
        return e;
    }

    LayerBuilder dir(String name, int mode, int uid) {
        items.add(new Item(entry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, mode, uid), null));
        return this;
    }

    LayerBuilder file(String name, String content, int mode, int uid) {
        return file(name, content.getBytes(StandardCharsets.UTF_8), mode, uid);
    }

    LayerBuilder file(String name, byte[] content, int mode, int uid) {
        TarArchiveEntry e = entry(name, TarConstants.LF_NORMAL, mode, uid);
        e.setSize(content.length);
        items.add(new Item(e, content));
        return this;
    }

    LayerBuilder xattr(String key, String value) {
        items.get(items.size() - 1).entry().addPaxHeader("SCHILY.xattr." + key, value);
        return this;
    }

    LayerBuilder symlink(String name, String target) {
        TarArchiveEntry e = entry(name, TarConstants.LF_SYMLINK, 0777, 0);
        e.setLinkName(target);
        items.add(new Item(e, null));
        return this;
    }

    LayerBuilder hardlink(String name, String target) {
        TarArchiveEntry e = entry(name, TarConstants.LF_LINK, 0644, 0);
        e.setLinkName(target);
        items.add(new Item(e, null));
        return this;
    }

    LayerBuilder charDevice(String name, int major, int minor) {
        TarArchiveEntry e = entry(name, TarConstants.LF_CHR, 0666, 0);
        e.setDevMajor(major);
        e.setDevMinor(minor);
        items.add(new Item(e, null));
        return this;
    }

    LayerBuilder whiteout(String name) {
        return file(parentOf(name) + ".wh." + name.substring(name.lastIndexOf('/') + 1), "", 0644, 0);
    }

    LayerBuilder opaque(String dir) {
        return file(dir + "/.wh..wh..opq", "", 0644, 0);
    }

    private static String parentOf(String name) {
        int i = name.lastIndexOf('/');
        return i < 0 ? "" : name.substring(0, i + 1);
    }

    byte[] tar() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(bytes)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Item i : items) {
                t.putArchiveEntry(i.entry());
                if (i.data() != null) {
                    t.write(i.data());
                }
                t.closeArchiveEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static byte[] gzip(byte[] tar) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GzipCompressorOutputStream g = new GzipCompressorOutputStream(bytes)) {
            g.write(tar);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}

package io.zonekeeper.images;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import io.zonekeeper.api.image.ImageException;

/**
 * Applies an image's layers, lowest first, as the OCI layer spec says, without writing a file: the first pass reads
 * every layer's headers and works out which entry of which layer survives at each path (whiteouts {@code .wh.NAME}
 * and opaque folders {@code .wh..wh..opq} hide what lower layers hold; an entry that is not a folder hides a lower
 * folder and all below it); the second pass reads the layers again and writes the survivors, with their owners,
 * modes, links, device numbers and xattrs, as one tar stream. An entry written below a symbolic link is put where the
 * link leads inside the image; a link that leads out of the image and is written through is refused. Each layer's
 * uncompressed stream is checked against its diff id in both passes.
 */
final class LayerMerge {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.images");
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final int MAX_LINK_HOPS = 40;

    private enum Kind {
        DIR, FILE, SYMLINK, HARDLINK, SPECIAL
    }

    /** An entry of a layer that (so far) survives at {@link #path}. */
    private static final class Node {
        final int layer;
        final int ordinal;
        final Kind kind;
        final String path;
        final String symlinkTarget;
        /** For a hard link: the entry its data comes from. */
        Node primary;
        boolean alive = true;
        /** Set when this hard link carries its primary's data because the primary itself was hidden. */
        boolean promoted;

        Node(int layer, int ordinal, Kind kind, String path, String symlinkTarget) {
            this.layer = layer;
            this.ordinal = ordinal;
            this.kind = kind;
            this.path = path;
            this.symlinkTarget = symlinkTarget;
        }

        long key() {
            return key(layer, ordinal);
        }

        static long key(int layer, int ordinal) {
            return ((long) layer << 32) | (ordinal & 0xffffffffL);
        }
    }

    private final List<Layer> layers;
    private final TreeMap<String, Node> tree = new TreeMap<>();
    private final List<Node> hardLinks = new ArrayList<>();
    /** Survivors by (layer, ordinal), and for a hidden primary the hard link that takes its data instead. */
    private final Map<Long, Node> emit = new HashMap<>();
    private final Map<Long, Node> carriers = new HashMap<>();
    private boolean planned;

    LayerMerge(List<Layer> layers) {
        this.layers = List.copyOf(layers);
    }

    /** The first pass. */
    void plan() throws ImageException {
        tree.put("", new Node(-1, 0, Kind.DIR, "", null));
        for (int l = 0; l < layers.size(); l++) {
            planLayer(l, layers.get(l));
        }
        for (Node n : tree.values()) {
            if (n.layer >= 0) {
                emit.put(n.key(), n);
            }
        }
        for (Node link : hardLinks) {
            if (link.alive && !link.primary.alive) {
                carriers.putIfAbsent(link.primary.key(), link);
            }
        }
        for (Node carrier : carriers.values()) {
            carrier.promoted = true;
        }
        planned = true;
    }

    private String where(int l) {
        return "layer " + (l + 1) + " (" + layers.get(l).digest() + ")";
    }

    private void planLayer(int l, Layer layer) throws ImageException {
        String where = where(l);
        List<TarArchiveEntry> entries = new ArrayList<>();
        DigestInputStream digesting = null;
        try (InputStream raw = layer.openTar()) {
            digesting = new DigestInputStream(raw, Digest.sha256());
            TarArchiveInputStream tar = new TarArchiveInputStream(digesting);
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null;) {
                entries.add(e);
            }
            digesting.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            throw new ImageException(where + " is not a complete tar (truncated or damaged): " + e.getMessage(), e);
        }
        checkDiffId(l, digesting);
        // Whiteouts hide what lower layers hold, never what this layer adds, whatever their order in the tar.
        for (TarArchiveEntry e : entries) {
            String name = EntryPath.normalize(e.getName(), where);
            String base = EntryPath.base(name);
            if (base.equals(OPAQUE)) {
                String dir = EntryPath.parent(resolveParent(name, where, name));
                removeBelow(dir);
            } else if (base.startsWith(WHITEOUT) && !base.startsWith(WHITEOUT + WHITEOUT)) {
                String dir = EntryPath.parent(resolveParent(name, where, name));
                String hidden = EntryPath.child(dir, base.substring(WHITEOUT.length()));
                removeAt(hidden);
            }
        }
        for (int i = 0; i < entries.size(); i++) {
            TarArchiveEntry e = entries.get(i);
            String name = EntryPath.normalize(e.getName(), where);
            if (EntryPath.base(name).startsWith(WHITEOUT)) {
                continue;
            }
            add(l, i, e, name, where);
        }
    }

    private void checkDiffId(int l, DigestInputStream digesting) throws ImageException {
        Digest actual = Digest.of(digesting.getMessageDigest());
        if (!actual.equals(layers.get(l).diffId())) {
            throw new ImageException(where(l) + " does not match its diff id: the config says "
                    + layers.get(l).diffId() + ", the uncompressed layer hashes to " + actual);
        }
    }

    private void add(int l, int ordinal, TarArchiveEntry e, String name, String where) throws ImageException {
        Kind kind = kindOf(e, name, where);
        String path = name.isEmpty() ? "" : resolveParent(name, where, name);
        if (path.isEmpty() && kind != Kind.DIR) {
            throw new ImageException(where + ": entry '" + e.getName() + "' would replace the root folder");
        }
        ensureParents(path, where, e.getName());
        Node old = tree.get(path);
        if (old != null && (kind != Kind.DIR || old.kind != Kind.DIR)) {
            removeAt(path);
        } else if (old != null) {
            old.alive = false;
        }
        Node n = new Node(l, ordinal, kind, path, kind == Kind.SYMLINK ? e.getLinkName() : null);
        if (kind == Kind.HARDLINK) {
            String target = EntryPath.normalize(e.getLinkName(), where + " (hard link " + e.getName() + ")");
            String resolved = target.isEmpty() ? "" : resolveParent(target, where, e.getName());
            Node t = tree.get(resolved);
            if (t == null || !t.alive) {
                throw new ImageException(where + ": hard link '" + e.getName() + "' names '" + e.getLinkName()
                        + "', which the image does not hold at that point");
            }
            if (t.kind == Kind.DIR) {
                throw new ImageException(where + ": hard link '" + e.getName() + "' names the folder '"
                        + e.getLinkName() + "'");
            }
            n.primary = t.kind == Kind.HARDLINK ? t.primary : t;
            hardLinks.add(n);
        }
        tree.put(path, n);
    }

    private static Kind kindOf(TarArchiveEntry e, String name, String where) throws ImageException {
        if (e.isDirectory()) {
            return Kind.DIR;
        }
        if (e.isSymbolicLink()) {
            return Kind.SYMLINK;
        }
        if (e.isLink()) {
            return Kind.HARDLINK;
        }
        if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
            return Kind.SPECIAL;
        }
        if (e.isFile() && !e.isSparse()) {
            return Kind.FILE;
        }
        throw new ImageException(where + ": entry '" + name + "' has the tar type '" + (char) e.getLinkFlag()
                + "', which an image cannot hold");
    }

    private void ensureParents(String path, String where, String entry) throws ImageException {
        Deque<String> missing = new ArrayDeque<>();
        for (String p = EntryPath.parent(path); !p.isEmpty(); p = EntryPath.parent(p)) {
            Node n = tree.get(p);
            if (n == null) {
                missing.push(p);
            } else if (n.kind != Kind.DIR) {
                throw new ImageException(where + ": entry '" + entry + "' lies below '" + p + "', which is not a "
                        + "folder");
            } else {
                break;
            }
        }
        for (String p : missing) {
            // Made by the packer as well (tar2sqfs creates missing parents); kept here only to judge later entries.
            tree.put(p, new Node(-1, 0, Kind.DIR, p, null));
        }
    }

    /**
     * The path {@code name} stands for once the symbolic links among its parents are followed inside the image
     * (absolute targets from the image's root); its last component is not followed.
     */
    private String resolveParent(String name, String where, String entry) throws ImageException {
        String[] parts = name.split("/");
        Deque<String> todo = new ArrayDeque<>(List.of(parts).subList(0, parts.length - 1));
        List<String> done = new ArrayList<>();
        int hops = 0;
        while (!todo.isEmpty()) {
            String part = todo.pollFirst();
            String candidate = String.join("/", done).isEmpty() ? part : String.join("/", done) + "/" + part;
            Node n = tree.get(candidate);
            if (n == null || n.kind != Kind.SYMLINK) {
                done.add(part);
                continue;
            }
            if (++hops > MAX_LINK_HOPS) {
                throw new ImageException(where + ": entry '" + entry + "' passes through too many symbolic links");
            }
            String target = n.symlinkTarget;
            List<String> base = target.startsWith("/") ? new ArrayList<>() : new ArrayList<>(done);
            List<String> rest = new ArrayList<>();
            for (String t : target.split("/")) {
                if (t.isEmpty() || t.equals(".")) {
                    continue;
                }
                rest.add(t);
            }
            // The link's own target components come first, then what remained of the entry's path.
            for (int i = rest.size() - 1; i >= 0; i--) {
                todo.addFirst(rest.get(i));
            }
            done = base;
            // A '..' is applied now, lexically: climbing above the root means the link leads out of the image.
            while (!todo.isEmpty() && todo.peekFirst().equals("..")) {
                todo.pollFirst();
                if (done.isEmpty()) {
                    throw new ImageException(where + ": entry '" + entry + "' is written through the symbolic link '"
                            + candidate + "' -> '" + target + "', which points outside the image; refused");
                }
                done.remove(done.size() - 1);
            }
        }
        String parent = String.join("/", done);
        return EntryPath.child(parent, parts[parts.length - 1]);
    }

    private void removeAt(String path) {
        Node n = tree.remove(path);
        if (n != null) {
            n.alive = false;
        }
        removeBelow(path);
    }

    private void removeBelow(String dir) {
        NavigableMap<String, Node> below = dir.isEmpty() ? tree.tailMap("", false)
                : tree.subMap(dir + "/", true, dir + "0", false);
        for (Node n : below.values()) {
            n.alive = false;
        }
        below.clear();
    }

    /** The second pass: writes the merged tree as one POSIX tar stream. */
    void write(OutputStream out) throws IOException, ImageException {
        if (!planned) {
            throw new IllegalStateException("plan() first");
        }
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
        for (int l = 0; l < layers.size(); l++) {
            DigestInputStream digesting;
            try (InputStream raw = layers.get(l).openTar()) {
                digesting = new DigestInputStream(raw, Digest.sha256());
                TarArchiveInputStream in = new TarArchiveInputStream(digesting);
                int ordinal = 0;
                for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ordinal++) {
                    long key = Node.key(l, ordinal);
                    Node carrier = carriers.get(key);
                    Node n = emit.get(key);
                    if (carrier != null) {
                        writeEntry(tar, e, carrier.path, carrier.primary.kind, null, in);
                    }
                    if (n != null && !n.promoted) {
                        writeEntry(tar, e, n.path, n.kind, n.kind == Kind.HARDLINK ? linkPath(n) : null, in);
                    }
                }
                digesting.transferTo(OutputStream.nullOutputStream());
            }
            // The blob was checked in the first pass; a file changed since then must not slip in.
            checkDiffId(l, digesting);
        }
        tar.finish();
        tar.flush();
    }

    private String linkPath(Node link) {
        Node p = link.primary;
        return p.alive ? p.path : carriers.get(p.key()).path;
    }

    private static void writeEntry(TarArchiveOutputStream tar, TarArchiveEntry e, String path, Kind kind,
            String hardLinkTarget, InputStream data) throws IOException {
        byte flag = switch (kind) {
        case DIR -> TarConstants.LF_DIR;
        case SYMLINK -> TarConstants.LF_SYMLINK;
        case HARDLINK -> TarConstants.LF_LINK;
        case FILE -> TarConstants.LF_NORMAL;
        case SPECIAL -> e.getLinkFlag();
        };
        String name = path.isEmpty() ? "./" : kind == Kind.DIR ? path + "/" : path;
        TarArchiveEntry o = new TarArchiveEntry(name, flag, true);
        o.setMode(e.getMode());
        o.setUserId(e.getLongUserId());
        o.setGroupId(e.getLongGroupId());
        o.setUserName(e.getUserName());
        o.setGroupName(e.getGroupName());
        o.setModTime(e.getLastModifiedTime());
        if (kind == Kind.SYMLINK) {
            o.setLinkName(e.getLinkName());
        } else if (kind == Kind.HARDLINK) {
            o.setLinkName(hardLinkTarget);
        } else if (kind == Kind.SPECIAL) {
            o.setDevMajor(e.getDevMajor());
            o.setDevMinor(e.getDevMinor());
        }
        for (Map.Entry<String, String> x : e.getExtraPaxHeaders().entrySet()) {
            // Commons Compress hands PAX values over as UTF-8 text: a binary value (security.capability) arrives with
            // replacement characters and would be written wrong, so such an xattr is dropped rather than corrupted.
            boolean xattr = x.getKey().startsWith("SCHILY.xattr.") || x.getKey().startsWith("LIBARCHIVE.xattr.");
            if (xattr && x.getValue().indexOf('\uFFFD') < 0) {
                o.addPaxHeader(x.getKey(), x.getValue());
            } else if (xattr) {
                LOG.log(System.Logger.Level.WARNING, "dropped the binary xattr " + x.getKey() + " of " + path);
            }
        }
        boolean withData = kind == Kind.FILE;
        o.setSize(withData ? e.getSize() : 0);
        tar.putArchiveEntry(o);
        if (withData) {
            long copied = data.transferTo(tar);
            if (copied != e.getSize()) {
                throw new IOException("entry " + e.getName() + " ends after " + copied + " of " + e.getSize()
                        + " bytes");
            }
        }
        tar.closeArchiveEntry();
    }
}

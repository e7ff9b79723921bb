package io.zonekeeper.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The cache key of a zone image: a digest of everything that goes into it (scripts as text, host files by path, size
 * and time), so that a changed busybox, module or script gives a new file name and the old image is never reused.
 */
public final class ImageKey {
    private final MessageDigest digest;

    public ImageKey() {
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public ImageKey add(String part) {
        digest.update(part.getBytes(StandardCharsets.UTF_8));
        digest.update((byte) 0);
        return this;
    }

    /** Bytes by their content (the guest agent, which comes from this library rather than from the host). */
    public ImageKey addBytes(byte[] bytes) {
        digest.update(bytes);
        digest.update((byte) 0);
        return this;
    }

    /** A host file by path, size and modification time; a missing one says so (and differs from every present one). */
    public ImageKey addFile(Path file) throws IOException {
        if (!Files.exists(file)) {
            return add(file + " missing");
        }
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return add(file + " " + a.size() + " " + a.lastModifiedTime().toMillis());
    }

    /** Every group's name and each of its modules' name and file. */
    public ImageKey addGroups(Map<String, List<KernelModules.Module>> groups) throws IOException {
        for (Map.Entry<String, List<KernelModules.Module>> g : groups.entrySet()) {
            add("group " + g.getKey());
            for (KernelModules.Module m : g.getValue()) {
                add(m.name());
                addFile(m.file());
            }
        }
        return this;
    }

    /** The key, 12 hex digits, for file names. */
    public String hex() {
        return HexFormat.of().formatHex(digest.digest()).substring(0, 12);
    }
}

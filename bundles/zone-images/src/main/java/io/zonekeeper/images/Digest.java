package io.zonekeeper.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

import io.zonekeeper.api.image.ImageException;

/** A content digest as OCI descriptors write it: {@code sha256:} and 64 lower-case hex digits (the only one read). */
public record Digest(String hex) {
    private static final Pattern SHA256 = Pattern.compile("sha256:[0-9a-f]{64}");

    public static Digest parse(String text, String where) throws ImageException {
        if (text == null || !SHA256.matcher(text).matches()) {
            throw new ImageException(where + ": '" + text + "' is not a sha256 digest (sha256: and 64 hex digits)");
        }
        return new Digest(text.substring(7));
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    public static Digest of(MessageDigest md) {
        return new Digest(HexFormat.of().formatHex(md.digest()));
    }

    /** Hashes a whole file and checks it against this digest and, when {@code size} is not negative, its size. */
    public void verify(Path file, long size, String what) throws ImageException {
        MessageDigest md = sha256();
        long n = 0;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0;) {
                md.update(buf, 0, r);
                n += r;
            }
        } catch (IOException e) {
            throw new ImageException(what + " " + this + " cannot be read: " + e.getMessage(), e);
        }
        if (size >= 0 && n != size) {
            throw new ImageException(what + " " + this + " has " + n + " bytes where its descriptor says " + size);
        }
        Digest actual = of(md);
        if (!actual.equals(this)) {
            throw new ImageException(what + " does not match its digest: expected " + this + ", content hashes to "
                    + actual);
        }
    }

    @Override
    public String toString() {
        return "sha256:" + hex;
    }
}

package io.zonekeeper.web;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * The operator's password as the configuration holds it: {@code pbkdf2-sha256:ITERATIONS:SALT:HASH}, salt and hash in
 * base64. PBKDF2 because the JDK has it (no new dependency) and Python's {@code hashlib.pbkdf2_hmac} writes the same,
 * so an operator makes one without Zonekeeper running; the comparison takes the same time whatever matches.
 */
record PasswordHash(int iterations, byte[] salt, byte[] hash) {
    static final String SCHEME = "pbkdf2-sha256";
    static final int MIN_ITERATIONS = 100_000;

    /** The configured text, or an error that says what is wrong with it (never echoing it: it is a secret's hash). */
    static PasswordHash parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("no passwordHash is configured");
        }
        String[] f = text.trim().split(":");
        if (f.length != 4 || !f[0].equals(SCHEME)) {
            throw new IllegalArgumentException("passwordHash must be " + SCHEME + ":ITERATIONS:SALT:HASH");
        }
        int iterations;
        byte[] salt;
        byte[] hash;
        try {
            iterations = Integer.parseInt(f[1]);
            salt = Base64.getDecoder().decode(f[2]);
            hash = Base64.getDecoder().decode(f[3]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("passwordHash must be " + SCHEME
                    + ":ITERATIONS:SALT:HASH with a number and two base64 texts");
        }
        if (iterations < MIN_ITERATIONS) {
            throw new IllegalArgumentException("passwordHash has " + iterations + " iterations; at least "
                    + MIN_ITERATIONS + " are needed");
        }
        if (salt.length < 16 || hash.length < 32) {
            throw new IllegalArgumentException("passwordHash needs a salt of at least 16 bytes and a 32-byte hash");
        }
        return new PasswordHash(iterations, salt, hash);
    }

    /** The hash of {@code password} with this salt and iteration count, in the configuration's form. */
    static String format(String password, byte[] salt, int iterations) {
        return SCHEME + ":" + iterations + ":" + Base64.getEncoder().encodeToString(salt) + ":"
                + Base64.getEncoder().encodeToString(derive(password, salt, iterations, 32));
    }

    boolean matches(String password) {
        byte[] given = derive(password == null ? "" : password, salt, iterations, hash.length);
        return MessageDigest.isEqual(given, hash);
    }

    private static byte[] derive(String password, byte[] salt, int iterations, int length) {
        try {
            // The JDK's PBKDF2 hashes the password's UTF-8 bytes, as Python's hashlib.pbkdf2_hmac is given them.
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, length * 8);
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no PBKDF2WithHmacSHA256", e);
        }
    }
}

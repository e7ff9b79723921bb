package io.zonekeeper.web;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;

import org.junit.Test;

public class PasswordHashTest {
    /** Made by Python: hashlib.pbkdf2_hmac('sha256', 'pässwort'.encode(), b'0123456789abcdef', 100000). */
    private static final String FROM_PYTHON =
            "pbkdf2-sha256:100000:MDEyMzQ1Njc4OWFiY2RlZg==:FvxppzMvJCV+i7Ykoj79bfdYZX/nLjmblCj4/bi6pxI=";

    @Test
    public void aHashPythonMadeMatchesItsPasswordOnly() {
        PasswordHash h = PasswordHash.parse(FROM_PYTHON);
        assertTrue(h.matches("pässwort"));
        assertFalse(h.matches("passwort"));
        assertFalse(h.matches(""));
        assertFalse(h.matches(null));
    }

    @Test
    public void formatWritesWhatParseReads() {
        byte[] salt = "a salt of 16 b..".getBytes(StandardCharsets.US_ASCII);
        String text = PasswordHash.format("pässwort", salt, 100_000);
        assertEquals(FROM_PYTHON.substring(FROM_PYTHON.lastIndexOf(':')),
                PasswordHash.format("pässwort", "0123456789abcdef".getBytes(StandardCharsets.US_ASCII), 100_000)
                        .substring(text.lastIndexOf(':')));
        assertTrue(PasswordHash.parse(text).matches("pässwort"));
    }

    @Test
    public void noHashOrABadOneIsRefusedWithTheReason() {
        assertEquals("no passwordHash is configured",
                assertThrows(IllegalArgumentException.class, () -> PasswordHash.parse("")).getMessage());
        assertEquals("no passwordHash is configured",
                assertThrows(IllegalArgumentException.class, () -> PasswordHash.parse(null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PasswordHash.parse("secret"))
                .getMessage().contains("pbkdf2-sha256:ITERATIONS:SALT:HASH"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> PasswordHash.parse("pbkdf2-sha256:x:MDEyMzQ1Njc4OWFiY2RlZg==:AAAA")).getMessage()
                .contains("a number and two base64 texts"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> PasswordHash.parse(FROM_PYTHON.replace(":100000:", ":1000:"))).getMessage()
                .contains("1000 iterations"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> PasswordHash.parse("pbkdf2-sha256:100000:AAAA:" + FROM_PYTHON.substring(
                        FROM_PYTHON.lastIndexOf(':') + 1))).getMessage().contains("salt of at least 16 bytes"));
    }
}

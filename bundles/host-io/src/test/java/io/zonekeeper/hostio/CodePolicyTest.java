package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Real jars signed by jarsigner with throwaway keys, checked against real PKCS#12 trust stores. */
public class CodePolicyTest {
    @ClassRule
    public static final TemporaryFolder TMP = new TemporaryFolder();
    private static Path dir;
    private static TestSigner trustedSigner;
    private static TestSigner strangerSigner;
    private static Path trustStore;
    private static Path unsigned;

    @BeforeClass
    public static void keys() throws IOException {
        dir = TMP.getRoot().toPath();
        trustedSigner = TestSigner.create(dir, "vendor");
        strangerSigner = TestSigner.create(dir, "stranger");
        trustStore = trustedSigner.trustIn(dir.resolve("trust.p12"));
        unsigned = TestSigner.bundle(dir.resolve("plain.jar"), "com.example.plain",
                Map.of("com/example/A.class", "a", "META-INF/maven/pom.xml", "<project/>"));
    }

    private static CodePolicy required() throws IOException {
        return CodePolicy.required(trustStore, TestSigner.PASSWORD);
    }

    @Test
    public void aJarSignedByATrustedKeyPasses() throws Exception {
        Path signed = trustedSigner.sign(unsigned, dir.resolve("signed.jar"));
        required().check(signed);
    }

    @Test
    public void anUnsignedJarIsRefusedNamingTheJarAndTheEntry() throws Exception {
        CodePolicy.Refused e = assertThrows(CodePolicy.Refused.class, () -> required().check(unsigned));
        assertTrue(e.getMessage(), e.getMessage().startsWith(unsigned + " is refused: entry "));
        assertTrue(e.getMessage(), e.getMessage().endsWith(" is not signed"));
    }

    @Test
    public void aJarSignedByAKeyOutsideTheTrustStoreIsRefusedNamingTheSigner() throws Exception {
        Path signed = strangerSigner.sign(unsigned, dir.resolve("stranger.jar"));
        CodePolicy.Refused e = assertThrows(CodePolicy.Refused.class, () -> required().check(signed));
        assertTrue(e.getMessage(), e.getMessage().contains("signed by CN=stranger, whose key is not in the trust store "
                + trustStore));
    }

    @Test
    public void aSignedJarWithAnEntryChangedAfterSigningIsRefused() throws Exception {
        Path signed = trustedSigner.sign(unsigned, dir.resolve("tampered.jar"));
        rewriteEntry(signed, "com/example/A.class", "evil");
        CodePolicy.Refused e = assertThrows(CodePolicy.Refused.class, () -> required().check(signed));
        assertTrue(e.getMessage(), e.getMessage().contains("does not match its content"));
    }

    @Test
    public void aSignedJarWithAnEntryAddedAfterSigningIsRefused() throws Exception {
        Path signed = trustedSigner.sign(unsigned, dir.resolve("added.jar"));
        rewriteEntry(signed, "com/example/Extra.class", "extra");
        CodePolicy.Refused e = assertThrows(CodePolicy.Refused.class, () -> required().check(signed));
        assertTrue(e.getMessage(), e.getMessage().contains("entry com/example/Extra.class is not signed"));
    }

    @Test
    public void aFileThatIsNoJarIsRefused() throws Exception {
        Path junk = Files.writeString(dir.resolve("junk.jar"), "not a zip");
        CodePolicy.Refused e = assertThrows(CodePolicy.Refused.class, () -> required().check(junk));
        assertTrue(e.getMessage(), e.getMessage().contains("not a readable jar"));
    }

    @Test
    public void turnedOffByTheOperatorAnythingPasses() throws Exception {
        CodePolicy off = CodePolicy.of(Map.of(CodePolicy.SIGNATURES, "off")::get);
        assertFalse(off.requiresSignatures());
        off.check(unsigned);
    }

    @Test
    public void theDefaultTrustStoreIsTrustP12UnderEtcAndAMissingOneIsAClearError() throws Exception {
        Path etc = Files.createDirectories(dir.resolve("etc"));
        IOException e = assertThrows(IOException.class,
                () -> CodePolicy.of(Map.of("zonekeeper.etc", etc.toString())::get));
        assertEquals("the trust store " + etc.resolve("trust.p12") + " does not exist (signed code is required: "
                + "create it with keytool -importcert, or set zonekeeper.code.signatures = off)", e.getMessage());
        Files.copy(trustStore, etc.resolve("trust.p12"));
        assertTrue(CodePolicy.of(Map.of("zonekeeper.etc", etc.toString())::get).requiresSignatures());
    }

    @Test
    public void anUnknownModeIsRefused() {
        IOException e = assertThrows(IOException.class,
                () -> CodePolicy.of(Map.of(CodePolicy.SIGNATURES, "maybe")::get));
        assertTrue(e.getMessage(), e.getMessage().contains("must be 'required' or 'off'"));
    }

    @Test
    public void signatureFilesAreOnlyThoseSigningWritesAtTheTopOfMetaInf() {
        assertTrue(CodePolicy.isSignatureFile("META-INF/MANIFEST.MF"));
        assertTrue(CodePolicy.isSignatureFile("META-INF/SIGNER.SF"));
        assertTrue(CodePolicy.isSignatureFile("META-INF/SIGNER.EC"));
        assertFalse(CodePolicy.isSignatureFile("META-INF/maven/x/pom.xml"));
        assertFalse(CodePolicy.isSignatureFile("META-INF/sub/X.SF"));
        assertFalse(CodePolicy.isSignatureFile("OSGI-INF/x.xml"));
    }

    /** Changes or adds an entry in place, keeping the signature files as they were. */
    private static void rewriteEntry(Path jar, String entry, String text) throws IOException {
        Map<String, String> env = new HashMap<>();
        try (FileSystem zip = FileSystems.newFileSystem(URI.create("jar:" + jar.toUri()), env)) {
            try (OutputStream out = Files.newOutputStream(zip.getPath(entry))) {
                out.write(text.getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}

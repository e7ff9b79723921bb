package io.zonekeeper.hostio;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.CodeSigner;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PublicKey;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Which code the appliance runs: every bundle that comes in at run time (dropped into {@code deploy/}, or given
 * to {@code driver:upgrade}) must be signed, every entry of it, by a certificate chain that holds a key from the
 * appliance's trust store, unless the operator turned the check off.
 *
 * <p>Settings, framework properties from {@code etc/zonekeeper.properties}: {@value #SIGNATURES} ({@code required},
 * the default, or {@code off}), {@value #TRUST_STORE} (a PKCS#12 file of trusted certificates; default
 * {@code <zonekeeper.etc>/trust.p12}) and {@value #TRUST_STORE_PASSWORD} (default {@value #DEFAULT_PASSWORD}: a
 * trust store holds no secret, the password only guards its integrity).
 */
public final class CodePolicy {
    public static final String SIGNATURES = "zonekeeper.code.signatures";
    public static final String TRUST_STORE = "zonekeeper.code.truststore";
    public static final String TRUST_STORE_PASSWORD = "zonekeeper.code.truststore.password";
    public static final String DEFAULT_PASSWORD = "changeit";

    /** A jar that the policy refuses; the message names the jar and the reason. */
    public static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private final Path trustStore;
    private final List<PublicKey> trusted;

    private CodePolicy(Path trustStore, List<PublicKey> trusted) {
        this.trustStore = trustStore;
        this.trusted = trusted;
    }

    /** The policy of these settings ({@code property} answers null for an unset one). */
    public static CodePolicy of(UnaryOperator<String> property) throws IOException {
        String mode = property.apply(SIGNATURES);
        mode = mode == null ? "required" : mode.trim().toLowerCase(Locale.ROOT);
        if (mode.equals("off")) {
            return new CodePolicy(null, List.of());
        }
        if (!mode.equals("required")) {
            throw new IOException(SIGNATURES + " is '" + mode + "'; it must be 'required' or 'off'");
        }
        String store = property.apply(TRUST_STORE);
        if (store == null || store.isBlank()) {
            String etc = property.apply("zonekeeper.etc");
            if (etc == null) {
                throw new IOException("signed code is required but neither " + TRUST_STORE + " nor zonekeeper.etc "
                        + "is set, so there is no trust store");
            }
            store = Path.of(etc).resolve("trust.p12").toString();
        }
        String password = property.apply(TRUST_STORE_PASSWORD);
        return required(Path.of(store), password == null ? DEFAULT_PASSWORD : password);
    }

    /** Signatures required, by a key from the PKCS#12 trust store {@code store}. */
    public static CodePolicy required(Path store, String password) throws IOException {
        KeyStore ks;
        try (InputStream in = Files.newInputStream(store)) {
            ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password.toCharArray());
        } catch (NoSuchFileException e) {
            throw new IOException("the trust store " + store + " does not exist (signed code is required: create it "
                    + "with keytool -importcert, or set " + SIGNATURES + " = off)");
        } catch (GeneralSecurityException | IOException e) {
            throw new IOException("cannot read the trust store " + store + ": " + e.getMessage(), e);
        }
        List<PublicKey> keys = new ArrayList<>();
        try {
            for (String alias : Collections.list(ks.aliases())) {
                Certificate c = ks.getCertificate(alias);
                if (c != null) {
                    keys.add(c.getPublicKey());
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the trust store " + store + ": " + e.getMessage(), e);
        }
        if (keys.isEmpty()) {
            throw new IOException("the trust store " + store + " holds no certificate, so no code could be trusted");
        }
        return new CodePolicy(store, List.copyOf(keys));
    }

    public boolean requiresSignatures() {
        return trustStore != null;
    }

    /** What the policy is, for logs and {@code driver:info}. */
    public String describe() {
        return trustStore == null ? "unsigned code allowed (" + SIGNATURES + " = off)"
                : "signed code required, by one of " + trusted.size() + " key(s) of " + trustStore;
    }

    /**
     * Refuses {@code jar} unless every entry, other than the signature files themselves, is signed by a key from
     * the trust store. Reading every entry through a verifying {@link JarFile} also checks each entry's digest, so
     * a jar changed after signing is refused too.
     */
    public void check(Path jar) throws Refused {
        if (trustStore == null) {
            return;
        }
        int signed = 0;
        try (JarFile file = new JarFile(jar.toFile(), true)) {
            if (file.getManifest() == null) {
                throw new Refused(jar + " is refused: it has no manifest, so it is not signed");
            }
            byte[] buffer = new byte[1 << 16];
            for (Enumeration<JarEntry> all = file.entries(); all.hasMoreElements();) {
                JarEntry e = all.nextElement();
                try (InputStream in = file.getInputStream(e)) {
                    while (in.read(buffer) >= 0) {
                        // The verifying stream checks the digest once the whole entry has been read.
                    }
                }
                if (e.isDirectory() || isSignatureFile(e.getName())) {
                    continue;
                }
                CodeSigner[] signers = e.getCodeSigners();
                if (signers == null || signers.length == 0) {
                    throw new Refused(jar + " is refused: entry " + e.getName() + " is not signed");
                }
                if (!trustedSigner(signers)) {
                    throw new Refused(jar + " is refused: entry " + e.getName() + " is signed by " + who(signers)
                            + ", whose key is not in the trust store " + trustStore);
                }
                signed++;
            }
        } catch (SecurityException e) {
            throw new Refused(jar + " is refused: its signature does not match its content (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new Refused(jar + " is refused: it is not a readable jar (" + e.getMessage() + ")");
        }
        if (signed == 0) {
            throw new Refused(jar + " is refused: it holds no signed entry");
        }
    }

    private boolean trustedSigner(CodeSigner[] signers) {
        for (CodeSigner s : signers) {
            for (Certificate c : s.getSignerCertPath().getCertificates()) {
                if (trusted.contains(c.getPublicKey())) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String who(CodeSigner[] signers) {
        List<String> names = new ArrayList<>();
        for (CodeSigner s : signers) {
            Certificate c = s.getSignerCertPath().getCertificates().get(0);
            names.add(c instanceof java.security.cert.X509Certificate x ? x.getSubjectX500Principal().getName()
                    : c.getType());
        }
        return String.join(" and ", names);
    }

    /** The manifest and the signature files under META-INF/ (not its sub-folders), which signing itself writes. */
    static boolean isSignatureFile(String name) {
        String upper = name.toUpperCase(Locale.ROOT);
        if (!upper.startsWith("META-INF/") || upper.indexOf('/', "META-INF/".length()) >= 0) {
            return false;
        }
        String file = upper.substring("META-INF/".length());
        return file.equals("MANIFEST.MF") || file.startsWith("SIG-") || file.endsWith(".SF") || file.endsWith(".RSA")
                || file.endsWith(".DSA") || file.endsWith(".EC");
    }
}

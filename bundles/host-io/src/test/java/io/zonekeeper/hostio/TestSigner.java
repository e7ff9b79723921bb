package io.zonekeeper.hostio;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

/**
 * A throwaway code-signing key made by the JDK's keytool, for tests: it signs jars with jarsigner and exports its
 * certificate into trust stores. Shared with other modules' tests through host-io's test jar.
 */
public final class TestSigner {
    public static final String PASSWORD = CodePolicy.DEFAULT_PASSWORD;
    private final Path keyStore;
    private final String name;

    private TestSigner(Path keyStore, String name) {
        this.keyStore = keyStore;
        this.name = name;
    }

    /** A new EC key with a self-signed certificate for CN={@code name}, kept in {@code dir}. */
    public static TestSigner create(Path dir, String name) throws IOException {
        Path store = dir.resolve(name + "-key.p12");
        jdkTool("keytool", "-genkeypair", "-keyalg", "EC", "-groupname", "secp256r1", "-alias", "signer",
                "-dname", "CN=" + name, "-validity", "30", "-keystore", store.toString(), "-storetype", "PKCS12",
                "-storepass", PASSWORD, "-keypass", PASSWORD);
        return new TestSigner(store, name);
    }

    /** Adds this key's certificate to the PKCS#12 trust store {@code store} (made when missing). */
    public Path trustIn(Path store) throws IOException {
        Path cert = keyStore.resolveSibling(name + ".cer");
        jdkTool("keytool", "-exportcert", "-alias", "signer", "-keystore", keyStore.toString(), "-storepass", PASSWORD,
                "-file", cert.toString());
        jdkTool("keytool", "-importcert", "-noprompt", "-alias", name, "-file", cert.toString(), "-keystore",
                store.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD);
        return store;
    }

    /** Signs {@code jar} into {@code signed}. */
    public Path sign(Path jar, Path signed) throws IOException {
        jdkTool("jarsigner", "-keystore", keyStore.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD,
                "-signedjar", signed.toString(), jar.toString(), "signer");
        return signed;
    }

    /** A bundle jar named {@code bsn} with these text entries. */
    public static Path bundle(Path jar, String bsn, Map<String, String> entries) throws IOException {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().putValue("Bundle-ManifestVersion", "2");
        mf.getMainAttributes().putValue("Bundle-SymbolicName", bsn);
        mf.getMainAttributes().putValue("Bundle-Version", "1.0.0");
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file, mf)) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                out.putNextEntry(new JarEntry(e.getKey()));
                out.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                out.closeEntry();
            }
        }
        return jar;
    }

    private static void jdkTool(String tool, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", tool).toString());
        command.addAll(List.of(args));
        new ProcessRunner(Duration.ofSeconds(120)).run(command).requireSuccess();
    }
}

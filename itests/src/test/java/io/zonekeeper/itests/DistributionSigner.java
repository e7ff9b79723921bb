package io.zonekeeper.itests;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Signs a jar with the key the built distribution trusts: the build's throwaway signer
 * ({@code launcher/target/code-signing/build-signer.p12}), whose certificate alone is the distribution's
 * {@code etc/trust.p12}. Tests that hand jars to a real appliance ({@code deploy/}, {@code driver:upgrade}) sign them
 * as an operator would, so that they run under the default code policy instead of with it switched off.
 */
public final class DistributionSigner {
    private static final String ALIAS = "zonekeeper-build";
    private static final String PASSWORD = "changeit";

    private DistributionSigner() {
    }

    /** The build's signing key store, found from {@code zk.repo.root} (or the parent folder of the itests module). */
    public static Path keyStore() {
        return Path.of(System.getProperty("zk.repo.root", "..")).resolve("launcher/target/code-signing/build-signer.p12")
                .toAbsolutePath().normalize();
    }

    /** Writes {@code signed}, a copy of {@code jar} signed with the distribution's key. */
    public static Path sign(Path jar, Path signed) throws IOException {
        Path store = keyStore();
        if (!store.toFile().isFile()) {
            throw new IOException("no build signing key at " + store + " (build the launcher module first)");
        }
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jarsigner").toString(),
                "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD, "-signedjar",
                signed.toString(), jar.toString(), ALIAS).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("jarsigner did not finish within 60 s signing " + jar);
            }
            if (p.exitValue() != 0) {
                throw new IOException("jarsigner failed on " + jar + ": " + out.strip());
            }
            return signed;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while signing " + jar, e);
        }
    }
}

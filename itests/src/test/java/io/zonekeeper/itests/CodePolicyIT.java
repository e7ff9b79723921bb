package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

import io.zonekeeper.hostio.TestSigner;

/**
 * The code policy in a real Felix with the real KVM driver, signed code required: driver:upgrade refuses unsigned
 * and wrongly signed jars and changes nothing, takes a jar signed by a trusted key, and a second bundle that
 * registers a {@code kvm} driver is not bound. No guest runs: every refusal comes before one would matter.
 *
 * <p>The keys and jars are made outside the container ({@link #config}), where host-io's TestSigner is on the
 * class path; the tests inside find them in the state directory.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class CodePolicyIT {
    private static final Path STATE = Containers.newStateDir("code-policy");
    private static final Path JARS = STATE.resolveSibling(STATE.getFileName() + "-jars");
    private static final String ROGUE = "com.example.rogue-kvm";

    @Inject
    BundleContext context;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() throws IOException {
        Files.createDirectories(JARS);
        TestSigner trusted = TestSigner.create(JARS, "operator");
        Path store = trusted.trustIn(JARS.resolve("trust.p12"));
        Path next = Containers.testBuild("kvm-driver-next");
        Files.copy(next, JARS.resolve("unsigned.jar"));
        trusted.sign(next, JARS.resolve("signed.jar"));
        TestSigner.create(JARS, "stranger").sign(next, JARS.resolve("stranger.jar"));
        renamed(next, JARS.resolve("rogue-unsigned.jar"), ROGUE);
        trusted.sign(JARS.resolve("rogue-unsigned.jar"), JARS.resolve("rogue.jar"));
        return new Option[] { Containers.coreWithSignedCode(STATE),
                frameworkProperty("zonekeeper.code.truststore").value(store.toString()), Containers.kvm() };
    }

    /** A copy of {@code jar} under another Bundle-SymbolicName. */
    private static void renamed(Path jar, Path target, String bsn) throws IOException {
        try (InputStream file = Files.newInputStream(jar); JarInputStream in = new JarInputStream(file)) {
            Manifest mf = new Manifest(in.getManifest());
            mf.getMainAttributes().putValue("Bundle-SymbolicName", bsn);
            try (OutputStream o = Files.newOutputStream(target); JarOutputStream out = new JarOutputStream(o, mf)) {
                for (JarEntry e; (e = in.getNextJarEntry()) != null;) {
                    out.putNextEntry(new JarEntry(e.getName()));
                    in.transferTo(out);
                    out.closeEntry();
                }
            }
        }
    }

    private Bundle kvmDriverBundle() {
        return Containers.installed(context, "kvm-driver");
    }

    @Test
    public void anUnsignedOrWronglySignedUpgradeIsRefusedAndChangesNothingASignedOneGoesIn() throws Exception {
        String version = kvmDriverBundle().getVersion().toString();
        long lastModified = kvmDriverBundle().getLastModified();

        Path unsigned = JARS.resolve("unsigned.jar");
        String error = Containers.run(shell, "driver:upgrade --timeout 20 kvm " + unsigned).error();
        assertTrue(error, error.contains(unsigned + " is refused: entry ") && error.contains(" is not signed; "
                + "nothing was changed (signed code required"));

        Path stranger = JARS.resolve("stranger.jar");
        error = Containers.run(shell, "driver:upgrade --timeout 20 kvm " + stranger).error();
        assertTrue(error, error.contains(stranger + " is refused: entry ") && error.contains(
                " is signed by CN=stranger, whose key is not in the trust store " + JARS.resolve("trust.p12")));

        assertEquals(version, kvmDriverBundle().getVersion().toString());
        assertEquals("the bundle was not touched", lastModified, kvmDriverBundle().getLastModified());
        assertFalse("no private copy is left", Files.exists(STATE.resolve("drivers/incoming.jar.tmp")));

        String out = Containers.run(shell, "driver:upgrade --timeout 60 kvm " + JARS.resolve("signed.jar")).ok();
        assertTrue(out, out.contains("driver kvm is now 1.0.1"));
        assertTrue(kvmDriverBundle().getVersion().toString().startsWith("1.0.1"));
    }

    @Test
    public void aSecondBundleRegisteringAKvmDriverIsNotBoundAndSaysWhy() throws Exception {
        Bundle rogue = context.installBundle(JARS.resolve("rogue.jar").toUri().toString());
        try {
            rogue.start();
            String refusal = "driver type kvm is already provided by kvm-driver; to let " + ROGUE + " take it over, "
                    + "set driver.takeover.kvm = " + ROGUE;
            long deadline = System.nanoTime() + 30_000_000_000L;
            String list;
            while (!(list = Containers.run(shell, "driver:list").ok()).contains(refusal)) {
                assertTrue("the rogue driver was not reported: " + list, System.nanoTime() < deadline);
                Thread.sleep(200);
            }
            assertTrue(list, list.lines().anyMatch(l -> l.contains(ROGUE) && l.contains("refused")));
            String info = Containers.run(shell, "driver:info kvm").ok();
            assertTrue(info, info.contains("bundle               kvm-driver ") && info.contains(refusal));
            String json = Containers.run(shell, "driver:list --json").ok();
            assertTrue(json, json.contains("\"bundle\":\"" + ROGUE + "\"") && json.contains("\"refusal\":\""));
        } finally {
            rogue.uninstall();
        }
        assertFalse(Containers.run(shell, "driver:list").ok().contains(ROGUE));
    }
}

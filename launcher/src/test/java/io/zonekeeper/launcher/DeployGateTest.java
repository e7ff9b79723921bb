package io.zonekeeper.launcher;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.Before;
import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.hostio.CodePolicy;
import io.zonekeeper.hostio.TestSigner;

/** deploy/ as an operator fills it, with real jars signed by jarsigner, and the admitted folder FileInstall reads. */
public class DeployGateTest {
    @ClassRule
    public static final TemporaryFolder KEYS = new TemporaryFolder();
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private static Path trustStore;
    private static Path signed;
    private static Path signedNext;
    private static Path unsigned;
    private static Path strangerSigned;
    private Path deploy;
    private Path admitted;
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private DeployGate gate;

    @BeforeClass
    public static void jars() throws IOException {
        Path dir = KEYS.getRoot().toPath();
        TestSigner vendor = TestSigner.create(dir, "vendor");
        trustStore = vendor.trustIn(dir.resolve("trust.p12"));
        unsigned = TestSigner.bundle(dir.resolve("plain.jar"), "com.example.driver", Map.of("com/example/D.class",
                "v1"));
        signed = vendor.sign(unsigned, dir.resolve("signed.jar"));
        signedNext = vendor.sign(TestSigner.bundle(dir.resolve("plain-next.jar"), "com.example.driver",
                Map.of("com/example/D.class", "v2, longer")), dir.resolve("signed-next.jar"));
        strangerSigned = TestSigner.create(dir, "stranger").sign(unsigned, dir.resolve("stranger.jar"));
    }

    @Before
    public void folders() throws IOException {
        deploy = tmp.newFolder("deploy").toPath();
        admitted = tmp.getRoot().toPath().resolve("state/deploy-admitted");
        gate = new DeployGate(deploy, admitted, () -> CodePolicy.required(trustStore, TestSigner.PASSWORD),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        gate.open();
    }

    private Path drop(Path jar, String name) throws IOException {
        Path part = deploy.resolve(name + ".part");
        Files.copy(jar, part, StandardCopyOption.REPLACE_EXISTING);
        return Files.move(part, deploy.resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    private List<String> admittedNames() throws IOException {
        try (Stream<Path> s = Files.list(admitted)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    public void aSignedJarIsAdmittedAndWithdrawnWhenRemoved() throws IOException {
        Path dropped = drop(signed, "driver.jar");
        gate.sync();
        assertEquals(List.of("driver.jar"), admittedNames());
        assertArrayEquals(Files.readAllBytes(signed), Files.readAllBytes(admitted.resolve("driver.jar")));
        Files.delete(dropped);
        gate.sync();
        assertEquals(List.of(), admittedNames());
        assertEquals("", log.toString(StandardCharsets.UTF_8));
    }

    @Test
    public void anUnsignedJarIsRefusedOnceNamingItAndNothingIsAdmitted() throws IOException {
        Path dropped = drop(unsigned, "unsigned.jar");
        gate.sync();
        gate.sync();
        assertEquals(List.of(), admittedNames());
        assertEquals("zonekeeper: " + dropped + " is refused: entry com/example/D.class is not signed; nothing of it "
                + "is installed\n", log.toString(StandardCharsets.UTF_8));
    }

    @Test
    public void aJarSignedByAnUntrustedKeyIsRefused() throws IOException {
        drop(strangerSigned, "stranger.jar");
        gate.sync();
        assertEquals(List.of(), admittedNames());
        assertTrue(log.toString(StandardCharsets.UTF_8), log.toString(StandardCharsets.UTF_8).contains(
                "is signed by CN=stranger, whose key is not in the trust store " + trustStore));
    }

    @Test
    public void anUnsignedNewVersionLeavesTheAdmittedOneInPlaceAndASignedOneReplacesIt() throws IOException {
        drop(signed, "driver.jar");
        gate.sync();
        drop(unsigned, "driver.jar");
        gate.sync();
        assertArrayEquals(Files.readAllBytes(signed), Files.readAllBytes(admitted.resolve("driver.jar")));
        assertTrue(log.toString(StandardCharsets.UTF_8), log.toString(StandardCharsets.UTF_8).contains(
                "(the version admitted before keeps running)"));
        drop(signedNext, "driver.jar");
        gate.sync();
        assertArrayEquals(Files.readAllBytes(signedNext), Files.readAllBytes(admitted.resolve("driver.jar")));
    }

    @Test
    public void withoutATrustStoreEveryJarIsRefusedWithTheReason() throws IOException {
        DeployGate noStore = new DeployGate(deploy, admitted,
                () -> CodePolicy.of(Map.of("zonekeeper.etc", tmp.getRoot().toString())::get),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        drop(signed, "driver.jar");
        noStore.open();
        assertEquals(List.of(), admittedNames());
        assertTrue(log.toString(StandardCharsets.UTF_8), log.toString(StandardCharsets.UTF_8).contains(
                "the code policy cannot be applied: the trust store " + tmp.getRoot().toPath().resolve("trust.p12")
                        + " does not exist"));
    }

    @Test
    public void theOperatorCanTurnTheCheckOff() throws IOException {
        DeployGate off = new DeployGate(deploy, admitted, () -> CodePolicy.of(Map.of(CodePolicy.SIGNATURES,
                "off")::get), new PrintStream(log, true, StandardCharsets.UTF_8));
        drop(unsigned, "plain.jar");
        off.open();
        assertEquals(List.of("plain.jar"), admittedNames());
    }

    @Test
    public void aWorldWritableDeployFolderStopsTheStartNamingIt() throws Exception {
        Path etc = tmp.newFolder("etc").toPath();
        WritableFolders.check(List.of(etc, deploy));
        Files.setPosixFilePermissions(deploy, PosixFilePermissions.fromString("rwxrwxrwx"));
        LaunchException e = assertThrows(LaunchException.class, () -> WritableFolders.check(List.of(etc, deploy)));
        assertEquals("refusing to start: " + deploy + " is world-writable (rwxrwxrwx). What is there runs as this "
                + "appliance's user, so only that user may write it: chmod go-w each path named", e.getMessage());
    }

    @Test
    public void aGroupWritableFileInsideEtcZonesIsNamedToo() throws IOException {
        Path etc = tmp.newFolder("etc").toPath();
        Path zone = Files.writeString(Files.createDirectories(etc.resolve("zones")).resolve("web.json"), "{}");
        Files.setPosixFilePermissions(zone, PosixFilePermissions.fromString("rw-rw-r--"));
        LaunchException e = assertThrows(LaunchException.class, () -> WritableFolders.check(List.of(etc, deploy)));
        assertTrue(e.getMessage(), e.getMessage().contains(zone + " is group-writable (rw-rw-r--)"));
        assertFalse(e.getMessage(), e.getMessage().contains(deploy.toString() + " is"));
    }
}

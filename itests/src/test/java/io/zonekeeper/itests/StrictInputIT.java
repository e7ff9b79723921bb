package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;

/**
 * Bad input against the real core and control socket in Felix (issue #19, "strict input everywhere"): a 20,000-deep
 * file among valid declared zones, a spec with an unknown nested key, 100 slow socket clients, an oversize request,
 * and a peer of another uid.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class StrictInputIT {
    private static final Path STATE = Containers.newStateDir("strict-input");
    private static final Path SOCKET = STATE.resolve("run/control.sock");

    static {
        // Before the framework starts: zone-core reads etc/zones once, when it activates.
        try {
            Path zones = Files.createDirectories(STATE.resolve("etc/zones"));
            Files.writeString(zones.resolve("a-web.json"), "{\"name\":\"web\",\"memoryMiB\":128}");
            Files.writeString(zones.resolve("b-deep.json"), "{\"name\":\"deep\",\"labels\":" + "[".repeat(20_000)
                    + "]".repeat(20_000) + "}");
            Files.writeString(zones.resolve("c-db.json"), "{\"name\":\"db\"}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] {Containers.core(STATE), Containers.ours("control-socket")};
    }

    @Test
    public void aTwentyThousandDeepDeclaredZoneIsRefusedAndTheValidOnesLoad() {
        assertEquals(List.of("db", "web"), zones.list().stream().map(ZoneInfo::name).sorted().toList());
        String list = Containers.run(shell, "zone:list").ok();
        assertTrue(list, list.contains("warning: declared zone file " + STATE.resolve("etc/zones/b-deep.json")
                + " is refused: invalid zone spec: (spec): nests deeper than 32 levels"));
    }

    @Test
    public void aSpecWithAnUnknownNestedKeyIsRefusedByNameAndNothingIsStored() throws Exception {
        Path spec = STATE.resolve("data.json");
        Files.writeString(spec, "{\"name\":\"data\",\"disks\":[{\"path\":\"" + STATE.resolve("data.img")
                + "\",\"readOnly\":true}]}");
        String error = Containers.run(shell, "zone:create --spec " + spec).error();
        assertTrue(error, error.contains("disks[0].readOnly: unknown field; known: path, format, readonly"));
        assertTrue(zones.get("data").isEmpty());
        assertFalse(Files.exists(STATE.resolve("zones/data")));
    }

    @Test
    public void aHundredSlowClientsDoNotKeepANormalOneFromItsAnswer() throws Exception {
        awaitSocket();
        List<SocketChannel> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 100; i++) {
                SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(SOCKET));
                slow.add(c);
                if (i % 2 == 1) {
                    c.write(ByteBuffer.wrap("{\"command\":\"zone:li".getBytes(StandardCharsets.UTF_8)));
                }
            }
            // The normal client's own timeout; the server's request deadline (10 s) is what ends the slow ones.
            List<String> answer = CompletableFuture.supplyAsync(() -> exchange("{\"command\":\"zone:list\"}"))
                    .get(30, TimeUnit.SECONDS);
            assertEquals(answer.toString(), "{\"exit\":0}", answer.get(answer.size() - 1));
            assertTrue(answer.toString(), answer.toString().contains("web"));
        } finally {
            for (SocketChannel c : slow) {
                c.close();
            }
        }
        // And the appliance is still there for the next one.
        List<String> again = exchange("{\"command\":\"zone:list\"}");
        assertEquals(again.toString(), "{\"exit\":0}", again.get(again.size() - 1));
    }

    @Test
    public void anOversizeRequestIsRefused() throws Exception {
        awaitSocket();
        List<String> answer = exchange("{\"command\":\"zone:list " + "x".repeat(65_600) + "\"}");
        assertEquals(List.of("{\"err\":\"refused: request longer than 65536 bytes\\n\"}", "{\"exit\":2}"), answer);
    }

    @Test
    public void aPeerOfAnotherUidIsRefused() throws Exception {
        Assume.assumeTrue("needs root to run a client as another uid", "root".equals(System.getProperty("user.name")));
        Assume.assumeTrue("needs setpriv and python3", Files.isExecutable(Path.of("/usr/bin/setpriv"))
                && Files.isExecutable(Path.of("/usr/bin/python3")));
        awaitSocket();
        Set<PosixFilePermission> stateMode = Files.getPosixFilePermissions(STATE);
        Set<PosixFilePermission> runMode = Files.getPosixFilePermissions(SOCKET.getParent());
        Set<PosixFilePermission> socketMode = Files.getPosixFilePermissions(SOCKET);
        try {
            // Open the path to everyone, so that only the credentials check stands in the way.
            Files.setPosixFilePermissions(STATE, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(SOCKET.getParent(), PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(SOCKET, PosixFilePermissions.fromString("rw-rw-rw-"));
            Process client = new ProcessBuilder("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                    "--clear-groups", "/usr/bin/python3", "-c", "import socket,sys\n"
                    + "s=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
                    + "s.sendall(b'{\"command\":\"zone:destroy web\"}\\n')\n"
                    + "sys.stdout.write(s.makefile().read())\n", SOCKET.toString())
                    .redirectErrorStream(true).start();
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(client.waitFor(30, TimeUnit.SECONDS));
            assertTrue(out, out.startsWith("{\"err\":\"refused: user nobody (group nogroup) may not use this "
                    + "control socket"));
            assertTrue("the refused command did not run", zones.get("web").isPresent());
        } finally {
            Files.setPosixFilePermissions(SOCKET, socketMode);
            Files.setPosixFilePermissions(SOCKET.getParent(), runMode);
            Files.setPosixFilePermissions(STATE, stateMode);
        }
    }

    private static void awaitSocket() throws InterruptedException {
        for (int i = 0; i < 300 && !Files.exists(SOCKET); i++) {
            Thread.sleep(100);
        }
        assertTrue("the control socket is at " + SOCKET, Files.exists(SOCKET));
    }

    private static List<String> exchange(String request) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(SOCKET))) {
            ByteBuffer bytes = ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                c.write(bytes);
            }
            List<String> lines = new ArrayList<>();
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c),
                    StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                lines.add(line);
            }
            return lines;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

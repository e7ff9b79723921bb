package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

/**
 * The whole appliance as an operator runs it: the assembled distribution's bin/zonekeeper, a real Felix JVM,
 * real QEMU zones. Proves that zones outlive the management plane: kill -9 of the appliance JVM leaves both
 * guests running, and a new appliance adopts them by proof and can stop them.
 */
public class ApplianceRestartIT {
    private Path dist;
    private Path state;
    private final List<Process> appliances = new ArrayList<>();
    private final List<Long> guestPids = new ArrayList<>();

    @Before
    public void setUp() throws IOException {
        dist = Path.of(System.getProperty("zk.repo.root", "..")).resolve("launcher/target/zonekeeper")
                .toAbsolutePath().normalize();
        assertTrue("the distribution is built at " + dist, Files.isExecutable(dist.resolve("bin/zonekeeper")));
        state = Files.createTempDirectory("zk-restart");
    }

    @After
    public void tearDown() throws Exception {
        for (Process p : appliances) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (long pid : guestPids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    private Process startAppliance(String name) throws IOException {
        Path log = state.resolve(name + ".log");
        Process p = new ProcessBuilder(dist.resolve("bin/zonekeeper").toString(), "--state", state.toString(),
                "--no-shell").redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        appliances.add(p);
        return p;
    }

    /** Runs {@code bin/zonekeeper -c}; with an appliance running it goes over the control socket. */
    private String cli(String commands) throws Exception {
        Process p = new ProcessBuilder(dist.resolve("bin/zonekeeper").toString(), "--state", state.toString(), "-c",
                commands).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue("bin/zonekeeper -c did not finish", p.waitFor(120, TimeUnit.SECONDS));
        assertEquals("bin/zonekeeper -c '" + commands + "' failed:\n" + out, 0, p.exitValue());
        return out;
    }

    private JsonObject zone(String name) throws Exception {
        String out = cli("zone:list --json");
        JsonArray all = Json.createReader(new java.io.StringReader(out.substring(out.indexOf('[')))).readArray();
        for (JsonObject z : all.getValuesAs(JsonObject.class)) {
            if (z.getString("name").equals(name)) {
                return z;
            }
        }
        throw new AssertionError("no zone " + name + " in " + out);
    }

    private void awaitControlSocket() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(state.resolve("run/control.sock"))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the appliance did not open its control socket: "
                        + Files.readString(state.resolve("first.log")));
            }
            Thread.sleep(100);
        }
    }

    @Test
    public void zonesOutliveAKilledApplianceAndANewOneAdoptsAndStopsThem() throws Exception {
        Process first = startAppliance("first");
        awaitControlSocket();
        cli("zone:create --hypervisor kvm --start one; zone:create --hypervisor kvm --start two");
        cli("zone:wait --timeout 90 --console 'zonekeeper: zone one ready' one; "
                + "zone:wait --timeout 90 --console 'zonekeeper: zone two ready' two");
        long pidOne = Long.parseLong(zone("one").getJsonObject("runtime").getString("pid"));
        long pidTwo = Long.parseLong(zone("two").getJsonObject("runtime").getString("pid"));
        guestPids.add(pidOne);
        guestPids.add(pidTwo);

        // kill -9: no shutdown hook, no chance to clean up.
        new ProcessBuilder("kill", "-9", Long.toString(first.pid())).start().waitFor();
        assertTrue(first.waitFor(10, TimeUnit.SECONDS));
        Thread.sleep(500);
        assertTrue("guest one survives the appliance", ProcessHandle.of(pidOne).map(ProcessHandle::isAlive).orElse(false));
        assertTrue("guest two survives the appliance", ProcessHandle.of(pidTwo).map(ProcessHandle::isAlive).orElse(false));

        Files.deleteIfExists(state.resolve("first.log"));
        startAppliance("second");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                JsonObject one = zone("one");
                JsonObject two = zone("two");
                if (one.getBoolean("driverAttached") && two.getBoolean("driverAttached")) {
                    assertEquals("RUNNING", one.getString("state"));
                    assertEquals("RUNNING", two.getString("state"));
                    assertEquals(pidOne, Long.parseLong(one.getJsonObject("runtime").getString("pid")));
                    assertEquals(pidTwo, Long.parseLong(two.getJsonObject("runtime").getString("pid")));
                    break;
                }
            } catch (AssertionError notYet) {
                // The new appliance may not answer yet.
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the new appliance did not adopt both zones: " + cli("zone:list"));
            }
            Thread.sleep(250);
        }
        String stopped = cli("zone:stop one; zone:stop two");
        assertTrue(stopped, stopped.contains("zone one STOPPED") && stopped.contains("zone two STOPPED"));
        for (long pid : List.of(pidOne, pidTwo)) {
            ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
        }
        cli("zone:destroy one; zone:destroy two");
    }
}

package io.zonekeeper.itests.faults;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * A driver upgrade outlives the appliance's restart, on the assembled distribution: after {@code driver:upgrade kvm}
 * to kvm-driver-next (1.0.1) and a restart (SIGTERM, then {@code bin/zonekeeper} again on the same state), the
 * upgraded driver runs, not the distribution's 1.0.0, and it adopts the zone that kept running. After a rollback to
 * the distribution's own version and a restart, the distribution's jar runs and the kept jars are moved aside. A
 * kept jar the code policy refuses (unsigned) is not run: the distribution's driver is, and the log says why.
 */
public class DriverUpgradeRestartIT {
    private static final Duration ASK = Duration.ofSeconds(180);

    private Path state;
    private ApplianceProcess appliance;
    private ControlClient control;
    private int starts;

    @Before
    public void startTheApplianceAndAZone() throws Exception {
        state = Files.createTempDirectory(Path.of("/tmp"), "zk-upgrade-restart");
        appliance = new ApplianceProcess(ApplianceProcess.builtDistribution(), state);
        control = new ControlClient(state);
        start();
        ask("zone:create --hypervisor kvm --start kr");
        ask("zone:wait --timeout 300 --console 'zonekeeper: zone kr ready' kr");
    }

    @After
    public void destroyEverything() throws Exception {
        try {
            control.run("zone:destroy kr", Duration.ofSeconds(60));
        } finally {
            UpgradeSweep.stopAndRemove(appliance, control, state);
        }
    }

    @Test
    public void anUpgradedDriverRunsAfterARestartUntilTheDistributionCatchesUp() throws Exception {
        List<Path> jars = UpgradeSweep.signedKvmDriverJars(ApplianceProcess.builtDistribution(),
                Files.createDirectories(state.resolve("signed")));
        Path next = jars.get(0);
        long pid = pidOf("kr");
        String distVersion = kvmVersion();
        assertTrue(distVersion, distVersion.startsWith("1.0.0"));

        ask("driver:upgrade kvm " + next);
        assertTrue(kvmVersion(), kvmVersion().startsWith("1.0.1"));

        restart();
        assertTrue("after a restart the upgraded driver runs, not the distribution's: " + kvmVersion(),
                kvmVersion().startsWith("1.0.1"));
        assertTrue(log(), log().contains("zonekeeper: starting the upgraded kvm-driver 1.0.1"));
        assertRunningWith("kr", pid);

        // Back to the distribution's own version: a restart runs the distribution's jar and moves the kept ones aside.
        ask("driver:rollback kvm");
        restart();
        assertEquals(distVersion, kvmVersion());
        assertTrue(log(), log().contains("the distribution brings kvm-driver " + distVersion));
        Path kept = state.resolve("drivers/kvm-driver");
        assertTrue("the kept jars moved aside", Files.isRegularFile(state.resolve("drivers/kvm-driver.superseded/current.jar"))
                && !Files.exists(kept.resolve("current.jar")));
        assertRunningWith("kr", pid);

        // A kept jar the code policy refuses now (unsigned) does not run.
        Files.createDirectories(kept);
        Path unsigned = UpgradeSweep.unsignedKvmDriverNext(ApplianceProcess.builtDistribution());
        Files.copy(unsigned, kept.resolve("current.jar"));
        restart();
        assertEquals(distVersion, kvmVersion());
        assertTrue(log(), log().contains("is refused by the code policy now"));
        assertRunningWith("kr", pid);
    }

    private void start() throws Exception {
        starts++;
        appliance.start(null);
    }

    private void restart() throws Exception {
        appliance.stop();
        start();
    }

    private String log() throws IOException {
        return Files.readString(state.resolve("appliance-" + starts + ".log"));
    }

    private String ask(String command) throws IOException {
        ControlClient.Answer a = control.run(command, ASK);
        if (!a.ok()) {
            throw new AssertionError(command + " exited " + a.code() + ": " + a.err() + a.out());
        }
        return a.out();
    }

    /** The version of the bound kvm driver, from {@code driver:list --json}. */
    private String kvmVersion() throws IOException {
        String out = ask("driver:list --json");
        for (JsonValue v : Json.createReader(new StringReader(out.substring(out.indexOf('[')))).readArray()) {
            JsonObject d = v.asJsonObject();
            if ("kvm".equals(d.getString("type", "")) && d.getBoolean("active", true)) {
                return d.getString("version");
            }
        }
        throw new AssertionError("no active kvm driver in " + out);
    }

    private long pidOf(String name) throws IOException {
        String out = ask("zone:info --json " + name);
        JsonObject zone = Json.createReader(new StringReader(out.substring(out.indexOf('{')))).readObject();
        JsonObject rt = zone.getJsonObject("runtime");
        return rt == null || !rt.containsKey("pid") ? -1 : Long.parseLong(rt.getString("pid"));
    }

    private void assertRunningWith(String name, long pid) throws IOException {
        String out = ask("zone:info --json " + name);
        JsonObject zone = Json.createReader(new StringReader(out.substring(out.indexOf('{')))).readObject();
        assertEquals(out, "RUNNING", zone.getString("state"));
        assertEquals("the same QEMU, adopted", pid, pidOf(name));
    }
}

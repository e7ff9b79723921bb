package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.DeviceBackend;
import jakarta.json.Json;

/**
 * The example vendor bundle (examples/vendor-tpm, built against zone-api alone) in a running container, through a
 * deploy/ folder that FileInstall watches, as an operator uses it: dropped in, used by a zone whose guest talks to
 * its TPM, upgraded to a second build while that zone runs, and removed. The guest reads the TPM's clock once a
 * second ({@code TPM2_ReadClock}); its answers show that the TPM keeps answering across the upgrade and that its
 * state (the reset count) survives a stop and start.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class VendorTpmIT {
    private static final Path STATE = Containers.newStateDir("vendor-tpm");
    private static final String BSN = "com.example.zonekeeper.tpm";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration BOOT = Duration.ofSeconds(240);
    /** One TPM2_ReadClock a second: "tpm-clock N: <response bytes in hex>". */
    private static final String CLOCK_LOOP = "zk.run=\"i=0; while :; do i=$((i+1)); exec 3<>/dev/tpm0;"
            + " printf '\\200\\001\\000\\000\\000\\012\\000\\000\\001\\201' >&3;"
            + " echo tpm-clock $i: $(dd bs=64 count=1 <&3 2>/dev/null | od -An -tx1); exec 3>&-; sleep 1; done\"";
    /** A successful answer: tag 8001, size 35, response code 0, then the time info. */
    private static final Pattern CLOCK = Pattern.compile("tpm-clock (\\d+): 80 01 00 00 00 23 00 00 00 00((?: [0-9a-f]{2}){25})");

    @Inject
    BundleContext context;
    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() throws IOException {
        Path deploy = Files.createDirectories(STATE.resolve("deploy"));
        return new Option[] { Containers.core(STATE), Containers.kvm(), composite(
                frameworkProperty("felix.fileinstall.dir").value(deploy.toString()),
                frameworkProperty("felix.fileinstall.filter").value(".*\\.jar"),
                frameworkProperty("felix.fileinstall.poll").value("500"),
                frameworkProperty("felix.fileinstall.noInitialDelay").value("true"),
                frameworkProperty("felix.fileinstall.tmpdir").value(STATE.resolve("fileinstall-tmp").toString()),
                frameworkProperty("felix.fileinstall.log.level").value("1"),
                mavenBundle("org.apache.felix", "org.apache.felix.fileinstall", Containers.version("fileinstall"))) };
    }

    @After
    public void destroyEverything() {
        for (ZoneInfo z : zones.list()) {
            Containers.run(shell, "zone:destroy " + z.name());
        }
        swtpmPids().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private static Path vendorJar() {
        Path root = Path.of(System.getProperty("zk.repo.root", ".."));
        return root.resolve("examples/vendor-tpm/target/vendor-tpm-" + System.getProperty("zk.project.version")
                + ".jar").toAbsolutePath();
    }

    /** Puts a jar into deploy/ in one step, so that FileInstall never sees half a file. */
    private static void drop(Path jar) throws IOException {
        Path deploy = STATE.resolve("deploy");
        Path part = deploy.resolve("vendor-tpm.jar.part");
        Files.copy(jar, part, StandardCopyOption.REPLACE_EXISTING);
        Files.move(part, deploy.resolve("vendor-tpm.jar"), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
    }

    private static void await(String what, Duration d, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + d.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " did not happen within " + d.toSeconds() + " s");
            }
            Thread.sleep(100);
        }
    }

    private Optional<Bundle> vendorBundle() {
        return Stream.of(context.getBundles()).filter(b -> BSN.equals(b.getSymbolicName())).findFirst();
    }

    private Optional<ServiceReference<DeviceBackend>> tpmBackend() {
        try {
            return context.getServiceReferences(DeviceBackend.class, "(" + DeviceBackend.TYPE_PROPERTY + "=tpm)")
                    .stream().findFirst();
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The swtpm processes serving a socket in this test's state directory, by their command lines. */
    private static List<Long> swtpmPids() {
        List<Long> pids = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(h -> {
            try {
                String cmd = new String(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline")),
                        StandardCharsets.UTF_8);
                if (cmd.startsWith("swtpm\0") && cmd.contains(STATE.toString())) {
                    pids.add(h.pid());
                }
            } catch (IOException gone) {
                // ended meanwhile, or not ours to read
            }
        });
        return pids;
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private String console(String zone, long from) throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(zones.consoleLog(zone));
        } catch (io.zonekeeper.api.ZoneException e) {
            throw new IOException(e.getMessage(), e);
        }
        return new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from),
                StandardCharsets.ISO_8859_1);
    }

    /** The guest's TPM clock answers after console offset {@code from}: {index, resetCount}. */
    private List<long[]> clockAnswers(String zone, long from) throws IOException {
        List<long[]> out = new ArrayList<>();
        Matcher m = CLOCK.matcher(console(zone, from));
        while (m.find()) {
            String[] b = m.group(2).trim().split(" ");
            // TPMS_TIME_INFO: time (8), clock (8), resetCount (4), restartCount (4), safe (1)
            long resetCount = Long.parseLong(b[16] + b[17] + b[18] + b[19], 16);
            out.add(new long[] { Long.parseLong(m.group(1)), resetCount });
        }
        return out;
    }

    private long awaitClockAnswersAfter(String zone, long from, int count) throws InterruptedException {
        await("a TPM clock answer in zone " + zone, BOOT, () -> {
            try {
                return clockAnswers(zone, from).size() >= count;
            } catch (IOException e) {
                return false;
            }
        });
        try {
            List<long[]> a = clockAnswers(zone, from);
            return a.get(a.size() - 1)[1];
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private Path spec(String name, String address) throws IOException {
        var device = Json.createObjectBuilder().add("type", "tpm");
        if (address != null) {
            device.add("address", address);
        }
        String json = Json.createObjectBuilder().add("name", name).add("memoryMiB", 128).add("hypervisor", "kvm")
                .add("devices", Json.createArrayBuilder().add(device)).add("cmdline", CLOCK_LOOP).build().toString();
        Path f = STATE.resolve(name + ".json");
        Files.writeString(f, json);
        return f;
    }

    @Test
    public void aVendorTpmIsDeployedUsedUpgradedAndRemovedWhileItsZoneRuns() throws Exception {
        Assume.assumeTrue("swtpm is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "swtpm"))));

        // Dropped into deploy/: installed, started, and its backend serves tpm devices.
        drop(vendorJar());
        await("the vendor bundle's tpm backend", WAIT, () -> tpmBackend().isPresent());
        Bundle vendor = vendorBundle().orElseThrow();
        assertTrue(vendor.getVersion().toString(), vendor.getVersion().toString().startsWith("1.0.0"));
        assertTrue(sh("driver:info kvm"), sh("driver:info kvm").contains("q35-firmware"));

        // A version it does not offer is refused at create, by field, and nothing is stored.
        String refused = Containers.run(shell, "zone:create --spec " + spec("tpm-bad", "1.2")).error();
        assertTrue(refused, refused.contains("devices[0].address") && refused.contains("2.0"));
        assertTrue(zones.get("tpm-bad").isEmpty());

        // A zone with devices:[{type:"tpm"}] boots through firmware, and its guest talks to the TPM.
        sh("zone:create --spec " + spec("tpm-a", null));
        sh("zone:start tpm-a");
        sh("zone:wait --timeout 240 --console 'zonekeeper: tpm /dev/tpm0 version 2' tpm-a");
        long firstResetCount = awaitClockAnswersAfter("tpm-a", 0, 1);
        ZoneInfo info = zones.get("tpm-a").orElseThrow();
        assertEquals("q35-firmware", info.runtime().get("machine"));
        assertEquals("tpm0 (tpm) needs FIRMWARE_ACPI", info.runtime().get("machine.reason"));
        List<Long> swtpm = swtpmPids();
        assertEquals("one swtpm for the zone: " + swtpm, 1, swtpm.size());
        // The vendor bundle keeps its record in the appliance's state directory, which zone-core's StateLocation
        // gave it: the container set only the framework property, and the bundle no longer reads it.
        assertTrue("the vendor's record under " + STATE, Files.isRegularFile(STATE.resolve("devices").resolve("tpm")
                .resolve(info.id() + ".properties")));
        long firstSwtpm = swtpm.get(0);
        long qemu = Long.parseLong(info.runtime().get("pid"));

        // Upgraded in place by FileInstall (Bundle.update to the 1.0.1 build): the zone keeps its TPM.
        long serviceBefore = (Long) tpmBackend().orElseThrow().getProperty("service.id");
        drop(Containers.testBuild("vendor-tpm-next"));
        await("the 1.0.1 build active with its backend", WAIT, () -> vendorBundle().map(b -> b.getVersion()
                .toString().startsWith("1.0.1") && b.getState() == Bundle.ACTIVE).orElse(false)
                && tpmBackend().map(r -> !r.getProperty("service.id").equals(serviceBefore)).orElse(false));
        assertEquals("the same bundle, updated", vendor.getBundleId(), vendorBundle().orElseThrow().getBundleId());
        assertTrue("the zone's swtpm outlives the old revision", alive(firstSwtpm));
        assertEquals(qemu, Long.parseLong(zones.get("tpm-a").orElseThrow().runtime().get("pid")));
        long afterUpgrade = Files.size(zones.consoleLog("tpm-a"));
        awaitClockAnswersAfter("tpm-a", afterUpgrade, 2);

        // Stop and start under the new revision: a new swtpm, the same TPM state (its reset count goes on).
        assertTrue(sh("zone:stop --grace 30 tpm-a").contains("STOPPED"));
        await("the first swtpm to end with its QEMU", WAIT, () -> !alive(firstSwtpm));
        long beforeRestart = Files.size(zones.consoleLog("tpm-a"));
        sh("zone:start tpm-a");
        long secondResetCount = awaitClockAnswersAfter("tpm-a", beforeRestart, 1);
        assertTrue("reset count " + secondResetCount + " after the restart, " + firstResetCount + " before: the TPM"
                + " kept its state", secondResetCount > firstResetCount);
        List<Long> now = swtpmPids();
        assertEquals(1, now.size());
        long secondSwtpm = now.get(0);
        assertNotEquals(firstSwtpm, secondSwtpm);
        System.out.printf("vendor tpm: reset count %d, then %d after stop and start; swtpm pid %d, then %d%n",
                firstResetCount, secondResetCount, firstSwtpm, secondSwtpm);

        // Removed: the bundle is uninstalled; the running zone keeps its TPM until it stops.
        Files.delete(STATE.resolve("deploy/vendor-tpm.jar"));
        await("the vendor bundle to be uninstalled", WAIT, () -> vendorBundle().isEmpty() && tpmBackend().isEmpty());
        assertEquals(ZoneState.RUNNING, zones.get("tpm-a").orElseThrow().state());
        assertTrue(alive(secondSwtpm));
        long afterRemoval = Files.size(zones.consoleLog("tpm-a"));
        awaitClockAnswersAfter("tpm-a", afterRemoval, 2);
        assertTrue(sh("zone:stop --grace 30 tpm-a").contains("STOPPED"));
        await("the second swtpm to end with its QEMU", WAIT, () -> !alive(secondSwtpm));

        // A new start of a tpm zone is refused, saying what is missing; nothing starts.
        String error = Containers.run(shell, "zone:start tpm-a").error();
        assertTrue(error, error.contains("no device backend for tpm"));
        assertEquals(ZoneState.STOPPED, zones.get("tpm-a").orElseThrow().state());
        assertEquals(List.of(), swtpmPids());
    }
}

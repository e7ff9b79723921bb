package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

/**
 * The deploy/ folder of a running appliance, as an operator uses it: the assembled distribution's bin/zonekeeper
 * (a copy, so that its deploy/ is this test's own), jars copied in and removed while it runs, and every check made
 * through {@code bin/zonekeeper -c} over the control socket. The appliance is never restarted: its PID is the same
 * at the end.
 *
 * <p>The vendor bundle is ACME's example driver (examples/acme-pc-driver), built against zone-api alone: real QEMU
 * guests on the PC machine. The broken one is the same jar under another name, built against a vendor SDK package
 * that nothing here exports.
 */
public class DeployFolderIT {
    private static final Duration DEPLOY_WAIT = Duration.ofSeconds(60);
    private static final String MISSING_SDK_FILTER =
            "(&(osgi.wiring.package=com.acme.hv.sdk)(version>=2.1.0)(!(version>=3.0.0)))";

    private Path home;
    private Path state;
    private Path deploy;
    private Process appliance;
    private long appliancePid;
    private final List<Long> guestPids = new ArrayList<>();

    /** Runs after @After (the appliance has stopped): the copy and the state go, unless a test failed. */
    @org.junit.Rule
    public org.junit.rules.TestWatcher removeWorkFolderOnSuccess = new org.junit.rules.TestWatcher() {
        @Override
        protected void succeeded(org.junit.runner.Description d) {
            if (home == null) {
                return;
            }
            try (Stream<Path> all = Files.walk(home.getParent())) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                System.err.println("could not remove " + home.getParent() + ": " + e.getMessage());
            }
        }
    };

    @Before
    public void startAppliance() throws Exception {
        Path dist = Path.of(System.getProperty("zk.repo.root", "..")).resolve("launcher/target/zonekeeper")
                .toAbsolutePath().normalize();
        assertTrue("the distribution is built at " + dist, Files.isExecutable(dist.resolve("bin/zonekeeper")));
        Path work = Files.createTempDirectory("zk-deploy");
        home = work.resolve("zonekeeper");
        copyDistribution(dist, home);
        deploy = home.resolve("deploy");
        state = work.resolve("state");
        appliance = new ProcessBuilder(home.resolve("bin/zonekeeper").toString(), "--state", state.toString(),
                "--no-shell").redirectErrorStream(true).redirectOutput(work.resolve("appliance.log").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        appliancePid = appliance.pid();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(state.resolve("run/control.sock"))) {
            assertTrue("the appliance did not open its control socket: " + log(), appliance.isAlive()
                    && System.nanoTime() < deadline);
            Thread.sleep(100);
        }
    }

    @After
    public void stopAppliance() throws Exception {
        if (appliance != null) {
            appliance.destroy();
            if (!appliance.waitFor(30, TimeUnit.SECONDS)) {
                appliance.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        for (long pid : guestPids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** bin/, lib/, bundles/, features/, etc/ and extras/ of the distribution; an empty deploy/ and no state. */
    private static void copyDistribution(Path from, Path to) throws IOException {
        for (String dir : List.of("bin", "lib", "bundles", "features", "etc", "extras")) {
            try (Stream<Path> files = Files.walk(from.resolve(dir))) {
                for (Path p : files.sorted(Comparator.naturalOrder()).toList()) {
                    Path target = to.resolve(from.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
            }
        }
        Files.createDirectories(to.resolve("deploy"));
    }

    private String log() {
        try {
            String all = Files.readString(home.getParent().resolve("appliance.log"));
            return all.length() > 3000 ? all.substring(all.length() - 3000) : all;
        } catch (IOException e) {
            return "(no appliance log)";
        }
    }

    /** {@code bin/zonekeeper -c}: goes to the running appliance over its control socket. */
    private String cli(String commands) throws Exception {
        Process p = new ProcessBuilder(home.resolve("bin/zonekeeper").toString(), "--state", state.toString(), "-c",
                commands).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue("bin/zonekeeper -c did not finish", p.waitFor(600, TimeUnit.SECONDS));
        assertEquals("bin/zonekeeper -c '" + commands + "' failed:\n" + out, 0, p.exitValue());
        return out;
    }

    /** Polls {@code commands} until their output satisfies {@code ok}; fails with the last output otherwise. */
    private String awaitOutput(String commands, Predicate<String> ok, String what) throws Exception {
        long deadline = System.nanoTime() + DEPLOY_WAIT.toNanos();
        String out;
        while (!ok.test(out = cli(commands))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " within " + DEPLOY_WAIT.toSeconds() + " s; '" + commands
                        + "' says:\n" + out + "\nappliance log:\n" + log());
            }
            Thread.sleep(500);
        }
        return out;
    }

    /**
     * Signs a jar with the key the distribution trusts (the build's throwaway signer, whose certificate is the
     * distribution's etc/trust.p12), then copies it into deploy/ as an operator should.
     */
    private Path drop(Path jar, String name) throws Exception {
        Path signed = DistributionSigner.sign(jar, home.getParent().resolve("signed-" + name));
        return dropAsIs(signed, name);
    }

    /** Copies a jar into deploy/ as an operator should: under another name first, then renamed in one step. */
    private Path dropAsIs(Path jar, String name) throws IOException {
        Path part = deploy.resolve(name + ".part");
        Files.copy(jar, part, StandardCopyOption.REPLACE_EXISTING);
        return Files.move(part, deploy.resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    private JsonObject zone(String name) throws Exception {
        String out = cli("zone:list --json");
        JsonArray all = Json.createReader(new StringReader(out.substring(out.indexOf('[')))).readArray();
        return all.getValuesAs(JsonObject.class).stream().filter(z -> z.getString("name").equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no zone " + name + " in " + out));
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static Path acmeJar() {
        Path root = Path.of(System.getProperty("zk.repo.root", ".."));
        return root.resolve("examples/acme-pc-driver/target/acme-pc-driver-" + System.getProperty("zk.project.version")
                + ".jar").toAbsolutePath();
    }

    private void sameAppliance() throws Exception {
        assertTrue("the appliance was not restarted", appliance.isAlive());
        assertEquals(Long.toString(appliancePid), cli("$.context property zonekeeper.pid").strip());
    }

    @Test
    public void aVendorDriverDroppedIntoDeployRunsZonesWithoutARestartAndLeavesCleanlyWhenRemoved() throws Exception {
        assertFalse(cli("driver:list --json").contains("acme-pc"));
        Path dropped = drop(acmeJar(), "acme-pc-driver.jar");
        awaitOutput("driver:list --json", out -> out.contains("\"type\":\"acme-pc\""),
                "the dropped driver did not bind");
        sameAppliance();

        // Usable: a zone runs on it, a real QEMU guest that prints its own marker.
        cli("zone:create --hypervisor acme-pc --memory 128 --start vendor1");
        cli("zone:wait --timeout 120 --console 'acme-pc: zone vendor1 ready' vendor1");
        JsonObject z = zone("vendor1");
        assertEquals("RUNNING", z.getString("state"));
        long pid = Long.parseLong(z.getJsonObject("runtime").getString("pid"));
        guestPids.add(pid);
        assertTrue(alive(pid));

        // Removed while its zone runs: the bundle is uninstalled, the guest keeps running, detached.
        Files.delete(dropped);
        awaitOutput("lb -s", out -> !out.contains("com.acme.zonekeeper.pc"), "the removed driver was not uninstalled");
        assertFalse(cli("driver:list --json").contains("acme-pc"));
        JsonObject detached = zone("vendor1");
        assertEquals("RUNNING", detached.getString("state"));
        assertFalse(detached.getBoolean("driverAttached"));
        assertTrue("the guest outlives its driver's removal", alive(pid));

        // Dropped again: the new instance adopts the same guest by proof.
        dropped = drop(acmeJar(), "acme-pc-driver.jar");
        awaitOutput("zone:list --json", out -> out.contains("\"driverAttached\":true"),
                "the re-dropped driver did not adopt vendor1");
        assertEquals(pid, Long.parseLong(zone("vendor1").getJsonObject("runtime").getString("pid")));

        // Replaced by the next build: FileInstall updates the bundle in place, and the new revision adopts the guest.
        Path next = home.getParent().resolve("acme-pc-driver-next.jar");
        withManifest(acmeJar(), next, mf -> mf.getMainAttributes().putValue("Bundle-Version", "1.0.1.next"));
        dropped = drop(next, "acme-pc-driver.jar");
        awaitOutput("driver:list --json", out -> out.contains("\"version\":\"1.0.1.next\""),
                "the replaced jar did not update the driver");
        awaitOutput("zone:list --json", out -> out.contains("\"driverAttached\":true"),
                "the updated driver did not adopt vendor1");
        assertEquals(pid, Long.parseLong(zone("vendor1").getJsonObject("runtime").getString("pid")));
        assertTrue(alive(pid));
        String stopped = cli("zone:stop --grace 2 vendor1");
        assertTrue(stopped, stopped.contains("STOPPED"));
        ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
        cli("zone:destroy vendor1");

        Files.delete(dropped);
        awaitOutput("lb -s", out -> !out.contains("com.acme.zonekeeper.pc"), "the removed driver was not uninstalled");
        String drivers = cli("driver:list");
        assertFalse(drivers, drivers.contains("acme"));
        assertFalse(drivers, drivers.contains("cannot resolve"));
        sameAppliance();
    }

    @Test
    public void aBrokenVendorBundleIsReportedWithItsMissingRequirementAndGoesWhenRemoved() throws Exception {
        Path broken = home.getParent().resolve("acme-gpu-driver.jar");
        withManifest(acmeJar(), broken, mf -> {
            mf.getMainAttributes().putValue("Bundle-SymbolicName", "com.acme.zonekeeper.gpu");
            mf.getMainAttributes().putValue("Bundle-Version", "2.0.0");
            mf.getMainAttributes().putValue("Import-Package", mf.getMainAttributes().getValue("Import-Package")
                    + ",com.acme.hv.sdk;version=\"[2.1,3)\"");
        });
        Path dropped = drop(broken, "acme-gpu-driver.jar");
        String listed = awaitOutput("driver:list", out -> out.contains("com.acme.zonekeeper.gpu 2.0.0"),
                "the broken bundle is not reported");
        assertTrue(listed, listed.contains("bundle com.acme.zonekeeper.gpu 2.0.0 (") && listed.contains(
                "acme-gpu-driver.jar) cannot resolve, so it is not running"));
        assertTrue(listed, listed.contains("missing package " + MISSING_SDK_FILTER));
        assertFalse("only what is really missing is named: " + listed, listed.contains("io.zonekeeper"));
        String json = cli("driver:list --json");
        assertTrue(json, json.contains("\"bundle\":\"com.acme.zonekeeper.gpu\"") && json.contains(
                "\"missing\":[\"package " + MISSING_SDK_FILTER + "\"]"));
        sameAppliance();

        Files.delete(dropped);
        awaitOutput("driver:list", out -> !out.contains("com.acme.zonekeeper.gpu"),
                "the removed broken bundle is still reported");
        assertFalse(cli("lb -s").contains("com.acme.zonekeeper.gpu"));
    }

    @Test
    public void theConformanceKitDroppedIntoDeployPassesTheDroppedVendorDriver() throws Exception {
        // The kit as the distribution ships it: in extras/, installed only when dropped into deploy/.
        Path kit = home.resolve("extras/zone-conformance.jar");
        assertTrue("the distribution ships the conformance kit in extras/", Files.isRegularFile(kit));
        assertFalse("the kit is not installed unless asked for", cli("lb -s").contains("zone-conformance"));
        drop(acmeJar(), "acme-pc-driver.jar");
        drop(kit, "zone-conformance.jar");
        awaitOutput("driver:list --json", out -> out.contains("\"type\":\"acme-pc\""), "the dropped driver did not bind");
        awaitOutput("help", out -> out.contains("driver:conformance"), "driver:conformance did not appear");
        // The guest ignores the power button (its init has no handler): a short grace, then the driver's force.
        String report = cli("driver:conformance --marker 'acme-pc: zone {name} ready' --grace 2 --timeout 120 acme-pc");
        System.out.println(report);
        assertTrue(report, report.contains("driver acme-pc (com.acme.zonekeeper.pc 1.0.0"));
        // guest-powers-off is skipped: no --poweroff-cmdline was given for this guest.
        assertTrue(report, report.contains("5 passed, 0 failed, 1 skipped"));
        for (String s : List.of("bad-specs", "lifecycle", "no-leaked-processes", "guest-death",
                "adoption-after-upgrade")) {
            assertTrue(report, report.contains("PASS " + s + " ("));
        }
        assertTrue(cli("zone:list").lines().noneMatch(l -> l.contains("zkc-")));
        sameAppliance();
    }

    @Test
    public void anUnsignedBundleInDeployIsRefusedByNameAndNothingIsInstalled() throws Exception {
        String before = cli("lb -s");
        Path dropped = dropAsIs(acmeJar(), "acme-pc-driver.jar");
        String refusal = dropped + " is refused: entry ";
        long deadline = System.nanoTime() + DEPLOY_WAIT.toNanos();
        while (!log().contains(refusal)) {
            assertTrue("the unsigned jar was not reported; appliance log:\n" + log(), System.nanoTime() < deadline);
            Thread.sleep(500);
        }
        assertTrue(log(), log().contains(" is not signed; nothing of it is installed"));
        // The gate has decided: FileInstall never saw the jar, and nothing else changed.
        assertFalse(Files.exists(state.resolve("deploy-admitted/acme-pc-driver.jar")));
        assertEquals(before, cli("lb -s"));
        assertFalse(cli("driver:list --json").contains("acme-pc"));
        sameAppliance();
        // The same jar, signed by the trusted key, goes in.
        drop(acmeJar(), "acme-pc-driver.jar");
        awaitOutput("driver:list --json", out -> out.contains("\"type\":\"acme-pc\""),
                "the signed driver did not bind");
    }

    /** A copy of {@code jar} with its manifest changed by {@code change}. */
    private static void withManifest(Path jar, Path target, java.util.function.Consumer<Manifest> change)
            throws IOException {
        try (JarInputStream in = new JarInputStream(Files.newInputStream(jar))) {
            Manifest mf = new Manifest(in.getManifest());
            change.accept(mf);
            try (OutputStream os = Files.newOutputStream(target); JarOutputStream out = new JarOutputStream(os, mf)) {
                JarEntry e;
                while ((e = in.getNextJarEntry()) != null) {
                    out.putNextEntry(new JarEntry(e.getName()));
                    in.transferTo(out);
                    out.closeEntry();
                }
            }
        }
    }
}

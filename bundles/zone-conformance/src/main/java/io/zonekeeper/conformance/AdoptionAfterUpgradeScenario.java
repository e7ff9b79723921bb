package io.zonekeeper.conformance;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.Version;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.HypervisorDriver;

/**
 * The driver's bundle is updated in place while one of its zones runs (to the same jar, or to the next build), as
 * {@code driver:upgrade} does and nothing refreshed: the new revision registers its service again and adopts the
 * zone by proof. The runtime record keeps every value it had (the same pid, domain, sockets), the guest's processes
 * are the same processes, and the new revision stops the zone.
 */
final class AdoptionAfterUpgradeScenario implements Scenario {

    @Override
    public String name() {
        return "adoption-after-upgrade";
    }

    @Override
    public String proves() {
        return "after an in-place update of the driver bundle the zone is adopted: same runtime identity, guest "
                + "never stopped, and the new revision stops it";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        ServiceReference<HypervisorDriver> ref = run.driverReference().orElseThrow();
        Bundle bundle = ref.getBundle();
        if (bundle == null) {
            throw new AssertionError("the driver service went away before the scenario began");
        }
        if (bundle.getBundleId() == 0 || bundle.equals(run.context().getBundle())) {
            run.skip("driver " + run.driverType() + " is registered by " + bundle.getSymbolicName()
                    + ", which also runs the kit; only a driver in a bundle of its own can be updated");
        }
        List<String> exported = exports(bundle);
        if (!exported.isEmpty()) {
            run.step("note: " + bundle.getSymbolicName() + " exports " + exported + "; an update then leaves its "
                    + "importers on the old revision until a refresh (DRIVER-SPI.md: export nothing)");
        }

        ZoneInfo z = run.newZone("upg");
        String name = z.name();
        long offset = run.consoleLength(name);
        run.start(name);
        run.awaitReady(name, offset);
        ZoneInfo before = run.info(name);
        List<ProcessHandle> procs = run.guestProcesses(before);
        long oldService = (Long) ref.getProperty(Constants.SERVICE_ID);
        Version from = bundle.getVersion();

        Optional<Path> jar = run.upgradeJar();
        long t0 = System.nanoTime();
        try {
            if (jar.isPresent()) {
                try (InputStream in = Files.newInputStream(jar.get())) {
                    bundle.update(in);
                }
            } else {
                bundle.update();
            }
        } catch (BundleException e) {
            throw new AssertionError("updating " + bundle.getSymbolicName() + " " + from + " to "
                    + jar.map(Path::toString).orElse("its own jar") + " failed: " + e.getMessage(), e);
        }
        run.step("updated " + bundle.getSymbolicName() + " " + from + " -> " + bundle.getVersion() + " ("
                + jar.map(Path::toString).orElse("the same jar, from " + bundle.getLocation()) + ") in "
                + (System.nanoTime() - t0) / 1_000_000 + " ms");

        ZoneInfo after = awaitAdoption(run, name, bundle, oldService);
        run.step("adopted by the new revision after " + (System.nanoTime() - t0) / 1_000_000 + " ms: "
                + after.state() + ", runtime " + after.runtime());

        Map<String, String> changed = new TreeMap<>();
        for (Map.Entry<String, String> e : before.runtime().entrySet()) {
            String now = after.runtime().get(e.getKey());
            if (!e.getValue().equals(now)) {
                changed.put(e.getKey(), e.getValue() + " -> " + now);
            }
        }
        run.require(changed.isEmpty(), "the runtime record changed across the upgrade, so it is not the same guest "
                + "or the new revision rewrote its identity: " + changed);
        List<ProcessHandle> gone = procs.stream().filter(p -> !HostProcesses.alive(p)).collect(Collectors.toList());
        run.require(gone.isEmpty(), "guest processes ended across the upgrade: " + ScenarioRun.describe(gone));
        run.step("same runtime record, same processes (" + ScenarioRun.describe(procs) + ")");

        ZoneInfo stopped = run.zones().stop(name, run.stopGrace());
        run.require(stopped.state() == ZoneState.STOPPED, "the new revision left " + name + " " + stopped.state()
                + " (" + stopped.reason() + ") after stop, not STOPPED");
        run.requireNoGuestProcesses(stopped, procs, "after the new revision stopped the zone");
        run.step("the new revision stopped " + name + ": nothing left");
        run.zones().destroy(name);
    }

    /** Until the zone is RUNNING and held by a driver service that the updated bundle registered anew. */
    private static ZoneInfo awaitAdoption(ScenarioRun run, String name, Bundle bundle, long oldService)
            throws InterruptedException {
        long deadline = System.nanoTime() + run.bootTimeout().toNanos();
        while (true) {
            Optional<ServiceReference<HypervisorDriver>> now = run.driverReference();
            boolean fresh = now.isPresent() && bundle.equals(now.get().getBundle())
                    && (Long) now.get().getProperty(Constants.SERVICE_ID) != oldService;
            ZoneInfo z = run.info(name);
            if (fresh && z.driverAttached() && z.state() == ZoneState.RUNNING) {
                return z;
            }
            if (!z.state().isActive()) {
                throw new AssertionError("after the update " + name + " is " + z.state() + " (" + z.reason()
                        + ") instead of being adopted");
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the updated driver did not adopt " + name + " within "
                        + run.bootTimeout().toSeconds() + " s: bundle " + bundle.getSymbolicName() + " is in state "
                        + bundle.getState() + ", a new '" + run.driverType() + "' service "
                        + (fresh ? "is" : "is not") + " registered, the zone is " + z.state() + " (" + z.reason()
                        + "), attached " + z.driverAttached());
            }
            Thread.sleep(50);
        }
    }

    private static List<String> exports(Bundle bundle) {
        BundleRevision rev = bundle.adapt(BundleRevision.class);
        if (rev == null) {
            return List.of();
        }
        return rev.getDeclaredCapabilities(BundleRevision.PACKAGE_NAMESPACE).stream()
                .map(BundleCapability::getAttributes).map(a -> String.valueOf(a.get(BundleRevision.PACKAGE_NAMESPACE)))
                .collect(Collectors.toList());
    }
}

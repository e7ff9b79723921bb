package io.zonekeeper.conformance;

import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;

/**
 * The life of a zone on this driver: created DEFINED, started RUNNING with a runtime record and its guest up (the
 * ready marker on its console), stopped to STOPPED with its guest processes gone, started again from STOPPED, and
 * destroyed while running: gone from the list, its folder and its processes with it.
 */
final class LifecycleScenario implements Scenario {

    @Override
    public String name() {
        return "lifecycle";
    }

    @Override
    public String proves() {
        return "create, start (guest up), stop (guest gone), start again, destroy while running (nothing left)";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        ZoneInfo z = run.newZone("life");
        String name = z.name();
        run.require(z.runtime().isEmpty(), "a zone that never ran has a runtime record: " + z.runtime());

        long offset = run.consoleLength(name);
        z = run.start(name);
        run.awaitReady(name, offset);
        List<ProcessHandle> first = run.guestProcesses(run.info(name));
        run.step("guest processes: " + ScenarioRun.describe(first));

        ZoneInfo stopped = run.zones().stop(name, run.stopGrace());
        run.require(stopped.state() == ZoneState.STOPPED, "after stop, " + name + " is " + stopped.state() + " ("
                + stopped.reason() + "), not STOPPED");
        run.requireNoGuestProcesses(stopped, first, "after stop");
        run.step("stopped: " + stopped.state() + " (" + stopped.reason() + "), no guest process left");

        offset = run.consoleLength(name);
        ZoneInfo again = run.start(name);
        run.awaitReady(name, offset);
        run.pid(z).ifPresent(before -> run.pid(again).ifPresent(now -> run.step("started again: pid " + before
                + " before, " + now + " now")));
        List<ProcessHandle> second = run.guestProcesses(run.info(name));

        ZoneInfo last = run.info(name);
        run.zones().destroy(name);
        run.require(run.zones().get(name).isEmpty(), name + " is still listed after destroy");
        run.require(run.zones().list().stream().noneMatch(x -> x.name().equals(name)), name
                + " is still in list() after destroy");
        run.requireNoGuestProcesses(last, second, "after destroy of the running zone");
        run.expectedZoneFolder(name).ifPresent(dir -> run.require(!java.nio.file.Files.exists(dir),
                "the folder of destroyed zone " + name + " is still there: " + dir));
        run.step("destroyed while running: gone from the list, no guest process, no folder");
    }
}

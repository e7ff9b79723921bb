package io.zonekeeper.conformance;

import java.time.Duration;
import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;

/**
 * No host process of a zone outlives it, on the paths a graceful stop does not cover: a stop with no grace at all
 * (the driver must end the guest by force at once), and a destroy while the guest is still booting. The processes
 * are found without asking the driver: the pid it recorded with its descendants, and every process whose command
 * line names the zone's id or folder (helpers such as a TPM emulator or a device model).
 */
final class NoLeakedProcessesScenario implements Scenario {

    @Override
    public String name() {
        return "no-leaked-processes";
    }

    @Override
    public String proves() {
        return "a forced stop and a destroy during boot leave no process of the zone on the host";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        if (!HostProcesses.canSearch()) {
            run.step("this host has no /proc to search: only recorded pids are checked");
        }
        ZoneInfo z = run.newZone("leak");
        String name = z.name();
        long offset = run.consoleLength(name);
        run.start(name);
        run.awaitReady(name, offset);
        List<ProcessHandle> procs = run.guestProcesses(run.info(name));
        if (procs.isEmpty()) {
            run.step("no host process of " + name + " is visible (no pid recorded, none names its id or folder): "
                    + "its guest is not a host process, so only leftovers that name it can be caught");
        } else {
            run.step("processes of " + name + ": " + ScenarioRun.describe(procs));
        }
        ZoneInfo stopped = run.zones().stop(name, Duration.ZERO);
        run.require(stopped.state() == ZoneState.STOPPED, "a stop with no grace left " + name + " "
                + stopped.state() + " (" + stopped.reason() + "), not STOPPED");
        run.requireNoGuestProcesses(stopped, procs, "after a stop with no grace");
        run.step("stopped with no grace: STOPPED, nothing left");
        run.zones().destroy(name);

        ZoneInfo early = run.newZone("leak");
        ZoneInfo booting = run.start(early.name());
        List<ProcessHandle> bootProcs = run.guestProcesses(booting);
        run.zones().destroy(early.name());
        run.require(run.zones().get(early.name()).isEmpty(), early.name() + " is still listed after destroy");
        run.requireNoGuestProcesses(booting, bootProcs, "after a destroy during boot");
        run.step("destroyed " + early.name() + " during boot: nothing left (" + ScenarioRun.describe(bootProcs)
                + " ended)");
    }
}

package io.zonekeeper.conformance;

import java.util.EnumSet;
import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;

/**
 * A guest that powers itself off, nobody asking, is reported STOPPED (not CRASHED) with nothing of it left running,
 * and its zone can be destroyed. Needs the command line words that make the template's guest power off
 * ({@link DriverConformance#guestPowersOffWith}); skipped without them.
 */
final class GuestPowerOffScenario implements Scenario {

    @Override
    public String name() {
        return "guest-powers-off";
    }

    @Override
    public String proves() {
        return "a guest that powers itself off is reported STOPPED without anyone asking, and nothing of it is left";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        String more = run.powerOffCmdline().orElse(null);
        if (more == null) {
            run.skip("no command line that makes the guest power itself off was given (guestPowersOffWith,"
                    + " --poweroff-cmdline)");
        }
        String name = run.newZoneName("off");
        run.create(run.spec(name, more).build());
        long offset = run.consoleLength(name);
        ZoneInfo z = run.start(name);
        List<ProcessHandle> procs = run.guestProcesses(z);
        run.awaitReady(name, offset);
        long up = System.nanoTime();
        ZoneInfo ended = run.awaitState(name, EnumSet.of(ZoneState.STOPPED, ZoneState.CRASHED, ZoneState.DEFINED),
                run.bootTimeout());
        run.require(ended.state() == ZoneState.STOPPED, "a guest that powered itself off should be reported STOPPED; "
                + name + " is " + ended.state() + " (" + ended.reason() + ")");
        run.step(String.format("reported %s %.1f s after the guest was up: %s", ended.state(),
                (System.nanoTime() - up) / 1e9, ended.reason()));
        run.requireNoGuestProcesses(ended, procs, "after the guest powered itself off");
        run.zones().destroy(name);
        run.require(run.zones().get(name).isEmpty(), name + " is still listed after destroy");
        run.step("destroyed: nothing of the guest left");
    }
}

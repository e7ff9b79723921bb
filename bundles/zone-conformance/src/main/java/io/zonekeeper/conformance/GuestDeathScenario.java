package io.zonekeeper.conformance;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;

/**
 * A guest that dies without being asked is reported CRASHED with a reason, leaving nothing of it once destroyed. With
 * the command line words that make the guest's kernel crash ({@link DriverConformance#guestCrashesWith}) the guest
 * crashes by itself; otherwise its recorded process is killed behind the driver's back, and the zone must start
 * again afterwards. Skipped for a driver that records no pid when no such words were given.
 */
final class GuestDeathScenario implements Scenario {

    @Override
    public String name() {
        return "guest-death";
    }

    @Override
    public String proves() {
        return "a guest that dies unasked (killed, or its kernel crashed) is reported CRASHED, and nothing is left";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        if (run.crashCmdline().isPresent()) {
            crashesByItself(run, run.crashCmdline().get());
        } else {
            killedBehindTheDriversBack(run);
        }
    }

    private static void crashesByItself(ScenarioRun run, String more) throws Exception {
        String name = run.newZoneName("death");
        run.create(run.spec(name, more).build());
        long offset = run.consoleLength(name);
        ZoneInfo z = run.start(name);
        List<ProcessHandle> procs = new ArrayList<>(run.guestProcesses(z));
        run.awaitReady(name, offset);
        long up = System.nanoTime();
        ZoneInfo dead = reportedCrashed(run, name);
        run.step(String.format("reported %s %.1f s after the guest was up: %s", dead.state(),
                (System.nanoTime() - up) / 1e9, dead.reason()));
        run.zones().destroy(name);
        run.require(run.zones().get(name).isEmpty(), name + " is still listed after destroy");
        run.requireNoGuestProcesses(dead, procs, "after destroy of the crashed zone");
        run.step("destroyed: nothing of the guest left");
    }

    private static ZoneInfo reportedCrashed(ScenarioRun run, String name) {
        ZoneInfo dead = run.awaitState(name, EnumSet.of(ZoneState.CRASHED, ZoneState.STOPPED, ZoneState.DEFINED),
                run.bootTimeout());
        run.require(dead.state() == ZoneState.CRASHED, "a guest that died unasked should be reported CRASHED; "
                + name + " is " + dead.state() + " (" + dead.reason() + ")");
        run.require(!dead.reason().isBlank(), "the CRASHED report of " + name + " gives no reason");
        return dead;
    }

    private static void killedBehindTheDriversBack(ScenarioRun run) throws Exception {
        ZoneInfo z = run.newZone("death");
        String name = z.name();
        long offset = run.consoleLength(name);
        z = run.start(name);
        var pid = run.pid(z);
        if (pid.isEmpty()) {
            // Said before waiting for the guest: on a slow host (nested Xen) a boot costs minutes.
            run.skip("the runtime record has no pid, so the kit cannot end the guest behind the driver's back,"
                    + " and no command line that makes the guest crash was given (guestCrashesWith, --crash-cmdline)");
        }
        run.awaitReady(name, offset);
        List<ProcessHandle> procs = new ArrayList<>(run.guestProcesses(run.info(name)));
        ProcessHandle guest = ProcessHandle.of(pid.get()).orElseThrow(() -> new AssertionError("pid " + pid.get()
                + " of " + name + " is not alive"));
        guest.destroyForcibly();
        run.step("killed pid " + pid.get() + " (SIGKILL) behind the driver's back");

        ZoneInfo dead = reportedCrashed(run, name);
        run.step("reported " + dead.state() + ": " + dead.reason());

        offset = run.consoleLength(name);
        ZoneInfo again = run.start(name);
        run.awaitReady(name, offset);
        procs.addAll(run.guestProcesses(again));
        run.step("started again after the crash");
        run.zones().destroy(name);
        run.requireNoGuestProcesses(again, procs, "after destroy of the restarted zone");
        run.step("destroyed: nothing of either guest left");
    }
}

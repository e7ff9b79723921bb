package io.zonekeeper.conformance;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;

/**
 * A guest that dies without being asked (its process killed behind the driver's back) is reported CRASHED with a
 * reason, and the zone can be started again afterwards, leaving nothing of either guest once destroyed. Needs the
 * pid in the runtime record; skipped for drivers whose guests are not host processes.
 */
final class GuestDeathScenario implements Scenario {

    @Override
    public String name() {
        return "guest-death";
    }

    @Override
    public String proves() {
        return "a guest killed behind the driver's back is reported CRASHED, and the zone starts again";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        ZoneInfo z = run.newZone("death");
        String name = z.name();
        long offset = run.consoleLength(name);
        z = run.start(name);
        var pid = run.pid(z);
        if (pid.isEmpty()) {
            // Said before waiting for the guest: on a slow host (nested Xen) a boot costs minutes.
            run.skip("the runtime record has no pid, so the kit cannot end the guest behind the driver's back; "
                    + "prove this in your own tests");
        }
        run.awaitReady(name, offset);
        List<ProcessHandle> procs = new ArrayList<>(run.guestProcesses(run.info(name)));
        ProcessHandle guest = ProcessHandle.of(pid.get()).orElseThrow(() -> new AssertionError("pid " + pid.get()
                + " of " + name + " is not alive"));
        guest.destroyForcibly();
        run.step("killed pid " + pid.get() + " (SIGKILL) behind the driver's back");

        ZoneInfo dead = run.awaitState(name, EnumSet.of(ZoneState.CRASHED, ZoneState.STOPPED, ZoneState.DEFINED),
                run.bootTimeout());
        run.require(dead.state() == ZoneState.CRASHED, "a guest that died unasked should be reported CRASHED; "
                + name + " is " + dead.state() + " (" + dead.reason() + ")");
        run.require(!dead.reason().isBlank(), "the CRASHED report of " + name + " gives no reason");
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

package io.zonekeeper.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Capabilities;

/**
 * Bad specs are refused with the broken field named, and a refusal leaves nothing: a spec broken in itself is not
 * stored; a zone the driver cannot run (beyond its capabilities, a kernel or initramfs that is not there, a label
 * option it does not take) stays DEFINED with no runtime record, no guest process and no new file in its folder.
 */
final class BadSpecsScenario implements Scenario {
    static final String MISSING_KERNEL = "/nonexistent/zonekeeper-conformance/vmlinuz";
    static final String MISSING_INITRAMFS = "/nonexistent/zonekeeper-conformance/initramfs.img";

    private record Case(String what, UnaryOperator<ZoneSpec.Builder> change, String named) {
    }

    @Override
    public String name() {
        return "bad-specs";
    }

    @Override
    public String proves() {
        return "bad specs are refused with the field named; a refused zone leaves no guest, record or file behind";
    }

    @Override
    public void run(ScenarioRun run) throws Exception {
        refusedAtCreate(run);
        Capabilities caps = run.capabilities();
        List<Case> cases = new ArrayList<>();
        // Twice the maximum, not one more: a maximum may follow the host (free memory) and move between the
        // question and the start.
        if (caps.maxVcpus() < ZoneSpec.MAX_VCPUS) {
            int vcpus = (int) beyond(caps.maxVcpus(), ZoneSpec.MAX_VCPUS);
            cases.add(new Case(vcpus + " vCPUs (the driver says at most " + caps.maxVcpus() + ")",
                    b -> b.vcpus(vcpus), "vcpus"));
        }
        if (caps.maxMemoryMiB() < ZoneSpec.MAX_MEMORY_MIB) {
            int memory = (int) beyond(caps.maxMemoryMiB(), ZoneSpec.MAX_MEMORY_MIB);
            cases.add(new Case(memory + " MiB (the driver says at most " + caps.maxMemoryMiB() + ")",
                    b -> b.memoryMiB(memory), "memoryMiB"));
        }
        cases.add(new Case("a kernel that does not exist", b -> b.kernel(MISSING_KERNEL), MISSING_KERNEL));
        cases.add(new Case("an initramfs that does not exist", b -> b.initramfs(MISSING_INITRAMFS),
                MISSING_INITRAMFS));
        for (Map.Entry<String, String> l : run.refusedLabels().entrySet()) {
            cases.add(new Case("label " + l.getKey() + "=" + l.getValue(), b -> b.label(l.getKey(), l.getValue()),
                    "labels." + l.getKey()));
        }
        for (Case c : cases) {
            refusedAtStart(run, c);
        }
    }

    /** Well beyond {@code max} (twice it), but within what a spec may say at all. */
    private static long beyond(long max, long specLimit) {
        return Math.min(specLimit, Math.max(max + 1, 2 * max));
    }

    /** A spec broken in itself: refused by create with each field named, and not stored. */
    private static void refusedAtCreate(ScenarioRun run) {
        String name = run.newZoneName("bad");
        ZoneSpec broken = run.spec(name).vcpus(0).memoryMiB(1).build();
        String message;
        try {
            run.create(broken);
            throw new AssertionError("a spec with vcpus 0 and memoryMiB 1 was accepted");
        } catch (InvalidSpecException e) {
            Set<String> fields = new TreeSet<>();
            e.errors().stream().map(FieldError::field).forEach(fields::add);
            run.require(fields.containsAll(Set.of("vcpus", "memoryMiB")), "the refusal of vcpus 0 and memoryMiB 1 "
                    + "names the fields " + fields + ", not both vcpus and memoryMiB");
            message = e.getMessage();
        } catch (ZoneException e) {
            run.require(e.getMessage().contains("vcpus") && e.getMessage().contains("memoryMiB"),
                    "the refusal of vcpus 0 and memoryMiB 1 does not name both fields: " + e.getMessage());
            message = e.getMessage();
        }
        run.require(run.zones().get(name).isEmpty(), "the refused zone " + name + " was stored anyway");
        run.expectedZoneFolder(name).ifPresent(dir -> run.require(!java.nio.file.Files.exists(dir),
                "the refused zone " + name + " has a folder " + dir));
        run.step("create refused, nothing stored: " + message);
    }

    /** A valid spec this driver cannot run: start refused naming the field, and the zone exactly as before. */
    private static void refusedAtStart(ScenarioRun run, Case c) throws Exception {
        String name = run.newZoneName("bad");
        run.create(c.change().apply(run.spec(name)).build());
        Set<String> filesBefore = run.folderListing(name);
        String message;
        try {
            ZoneInfo z = run.zones().start(name);
            throw new AssertionError("a zone with " + c.what() + " was started (" + z.state() + ", runtime "
                    + z.runtime() + ")");
        } catch (ZoneException e) {
            message = e.getMessage();
        }
        run.require(message != null && message.contains(c.named()), "the start of a zone with " + c.what()
                + " was refused, but the message does not name " + c.named() + ": " + message);
        ZoneInfo after = run.info(name);
        run.require(after.state() == ZoneState.DEFINED, "after a refused start (" + c.what() + ") the zone is "
                + after.state() + " (" + after.reason() + "), not DEFINED as before");
        run.require(after.runtime().isEmpty(), "a refused start (" + c.what() + ") left a runtime record: "
                + after.runtime());
        run.requireNoGuestProcesses(after, run.guestProcesses(after), "after a refused start (" + c.what() + ")");
        Set<String> filesAfter = run.folderListing(name);
        if (!filesAfter.equals(filesBefore)) {
            Set<String> added = new TreeSet<>(filesAfter);
            added.removeAll(filesBefore);
            Set<String> removed = new TreeSet<>(filesBefore);
            removed.removeAll(filesAfter);
            throw new AssertionError("a refused start (" + c.what() + ") changed the zone's folder: added " + added
                    + ", removed " + removed);
        }
        run.step("start refused (" + c.what() + "), zone unchanged: " + message);
        run.zones().destroy(name);
        run.require(run.zones().get(name).isEmpty(), "zone " + name + " is still listed after destroy");
    }
}

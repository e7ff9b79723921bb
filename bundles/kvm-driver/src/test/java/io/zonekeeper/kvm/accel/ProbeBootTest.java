package io.zonekeeper.kvm.accel;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.Assume;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.kvm.BootPrerequisites;

/**
 * The probe runner against real QEMU (which cannot use KVM on this machine) and against small stand-in scripts
 * that behave like the QEMU outcomes the runner must tell apart. Every run must leave no process and no files.
 */
public class ProbeBootTest {

    private static final String MARKER = "ZK-PROBE-OK";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path work;
    private Path kernel;
    private Path initramfs;

    @Before
    public void setUp() throws IOException {
        work = tmp.newFolder("work").toPath();
        kernel = Files.writeString(tmp.getRoot().toPath().resolve("vmlinuz"), "kernel");
        initramfs = Files.writeString(tmp.getRoot().toPath().resolve("probe.cpio"), "cpio");
    }

    private Path script(String name, String body) throws IOException {
        Path p = tmp.getRoot().toPath().resolve(name);
        Files.writeString(p, body);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        return p;
    }

    /** A stand-in that finds "-serial file:PATH" among its arguments, like QEMU. */
    private Path fakeQemu(String name, String action) throws IOException {
        return script(name, "#!/bin/bash\n"
                + "while [ $# -gt 0 ]; do case \"$1\" in -serial) log=\"${2#file:}\"; shift;; esac; shift; done\n"
                + action + "\n");
    }

    private ProbeBoot runner(Path qemu, Duration deadline) {
        return new ProbeBoot(qemu.toString(), deadline, work);
    }

    private void assertGone(ProbeBoot.Attempt a) throws IOException {
        assertTrue("pid recorded: " + a, a.pid() > 0);
        Optional<ProcessHandle> h = ProcessHandle.of(a.pid());
        assertFalse("pid " + a.pid() + " still alive", h.isPresent() && h.get().isAlive());
        try (Stream<Path> left = Files.list(work)) {
            assertEquals("work folder left behind", List.of(), left.toList());
        }
    }

    @Test
    public void realQemuWithoutKvmExitsAtOnceAndIsCleanedUp() throws IOException {
        BootPrerequisites.need("qemu-system-x86_64 installed",
                Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")));
        Assume.assumeFalse("this host has /dev/kvm", Files.exists(Path.of("/dev/kvm")));
        ProbeBoot boot = runner(Path.of("/usr/bin/qemu-system-x86_64"), Duration.ofSeconds(10));

        ProbeBoot.Attempt a = boot.attempt("host", kernel, initramfs, MARKER);
        assertEquals(a.toString(), ProbeBoot.Ending.EXITED, a.ending());
        assertTrue(a.detail(), a.detail().contains("Could not access KVM kernel module"));
        assertTrue("well before the deadline: " + a, a.elapsedNanos() < Duration.ofSeconds(5).toNanos());
        assertGone(a);
    }

    @Test
    public void realQemuWithoutKvmTriesHostThenQemu64AndGivesTheReason() {
        BootPrerequisites.need("qemu-system-x86_64 installed",
                Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")));
        Assume.assumeFalse(Files.exists(Path.of("/dev/kvm")));
        ProbeBoot.Result r = runner(Path.of("/usr/bin/qemu-system-x86_64"), Duration.ofSeconds(10))
                .run(kernel, initramfs, MARKER);
        assertFalse(r.reachedInit());
        assertTrue(r.reason(), r.reason().startsWith("probe boot under KVM failed (-cpu qemu64): QEMU exited with status 1"));
        assertTrue(r.reason(), r.reason().contains("Could not access KVM kernel module"));
        assertEquals(List.of("probe boot -cpu host", "probe boot -cpu qemu64"), List.copyOf(r.steps().keySet()));
    }

    @Test
    public void theMarkerOnTheSerialConsoleMeansKvm() throws IOException {
        Path qemu = fakeQemu("boots", "printf 'Linux version 6.1\\r\\n" + MARKER + "\\r\\n' > \"$log\"; exit 0");
        ProbeBoot.Result r = runner(qemu, Duration.ofSeconds(5)).run(kernel, initramfs, MARKER);
        assertTrue(r.reason(), r.reachedInit());
        assertTrue(r.reason(), r.reason().endsWith("(-cpu host)"));
        assertEquals(1, r.steps().size());
    }

    @Test
    public void aGuestThatPrintsTheMarkerAndHangsIsKvmAndIsKilled() throws IOException {
        Path qemu = fakeQemu("boots-and-hangs", "echo " + MARKER + " > \"$log\"; exec sleep 60");
        ProbeBoot.Attempt a = runner(qemu, Duration.ofSeconds(5)).attempt("host", kernel, initramfs, MARKER);
        assertEquals(ProbeBoot.Ending.REACHED_INIT, a.ending());
        assertGone(a);
    }

    @Test
    public void aSilentGuestRunsIntoTheDeadlineAndIsKilledByPid() throws IOException {
        Path qemu = fakeQemu("silent", "exec sleep 60");
        long t = System.nanoTime();
        ProbeBoot.Attempt a = runner(qemu, Duration.ofMillis(600)).attempt("qemu64", kernel, initramfs, MARKER);
        assertEquals(a.toString(), ProbeBoot.Ending.DEADLINE, a.ending());
        assertTrue(a.detail(), a.detail().startsWith("no init marker within 600 ms"));
        assertTrue("took " + (System.nanoTime() - t) / 1_000_000 + " ms",
                System.nanoTime() - t < Duration.ofSeconds(4).toNanos());
        assertGone(a);
    }

    @Test
    public void aSilentGuestWithCpuHostIsNotRetriedWithQemu64() throws IOException {
        Path qemu = fakeQemu("silent-too", "exec sleep 60");
        ProbeBoot.Result r = runner(qemu, Duration.ofMillis(300)).run(kernel, initramfs, MARKER);
        assertFalse(r.reachedInit());
        assertEquals(List.of("probe boot -cpu host"), List.copyOf(r.steps().keySet()));
    }

    @Test
    public void anAbortingQemuIsACrashWithTheSignalAndItsLastWords() throws IOException {
        Path qemu = fakeQemu("aborts", "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0' >&2\n"
                + "echo 'kvm.c:2893: kvm_buf_set_msrs: Assertion failed.' >&2\nkill -ABRT $$");
        ProbeBoot.Attempt a = runner(qemu, Duration.ofSeconds(5)).attempt("host", kernel, initramfs, MARKER);
        assertEquals(ProbeBoot.Ending.EXITED, a.ending());
        assertTrue(a.detail(), a.detail().startsWith("QEMU exited with status 134 (signal 6)"));
        assertTrue(a.detail(), a.detail().contains("failed to set MSR 0x10a"));
        assertGone(a);
    }

    @Test
    public void theCommandLineIsTheDocumentedProbe() {
        List<String> cmd = new ProbeBoot("qemu-system-x86_64", Duration.ofSeconds(5), work)
                .command("host", kernel, initramfs, Path.of("/w/serial.log"), Path.of("/w/qmp.sock"));
        assertEquals(List.of("qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
                "-accel", "kvm", "-cpu", "host", "-m", "128", "-nodefaults", "-no-reboot", "-display", "none",
                "-serial", "file:/w/serial.log", "-qmp", "unix:/w/qmp.sock,server=on,wait=off",
                "-kernel", kernel.toString(), "-initrd", initramfs.toString(),
                "-append", "console=ttyS0 quiet panic=-1 rdinit=/init"), cmd);
    }

    @Test
    public void qmpStatusInternalErrorMeansTcgBeforeTheDeadline() throws IOException, InterruptedException {
        Assume.assumeTrue("python3 for the QMP stand-in", new ProcessBuilder("python3", "-c", "pass")
                .start().waitFor() == 0);
        Path qemu = script("internal-error", "#!/usr/bin/env python3\n"
                + "import json, os, socket, sys\n"
                + "path = sys.argv[sys.argv.index('-qmp') + 1][len('unix:'):].split(',')[0]\n"
                + "srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(1)\n"
                + "conn, _ = srv.accept(); f = conn.makefile('rw')\n"
                + "f.write(json.dumps({'QMP': {'version': {}, 'capabilities': []}}) + '\\n'); f.flush()\n"
                + "for line in f:\n"
                + "    req = json.loads(line)\n"
                + "    cmd = req['execute']\n"
                + "    ret = {} if cmd == 'qmp_capabilities' else {'status': 'internal-error', 'running': False}\n"
                + "    f.write(json.dumps({'event': 'STOP', 'data': {}}) + '\\n')\n"
                // as QEMU does, the reply carries the command's id
                + "    f.write(json.dumps({'return': ret, 'id': req.get('id')}) + '\\n'); f.flush()\n");
        ProbeBoot.Attempt a = runner(qemu, Duration.ofSeconds(8)).attempt("qemu64", kernel, initramfs, MARKER);
        assertEquals(a.toString(), ProbeBoot.Ending.INTERNAL_ERROR, a.ending());
        assertTrue(a.toString(), a.elapsedNanos() < Duration.ofSeconds(8).toNanos());
        assertGone(a);
    }
}

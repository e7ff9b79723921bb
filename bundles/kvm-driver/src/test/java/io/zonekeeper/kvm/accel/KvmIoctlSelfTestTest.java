package io.zonekeeper.kvm.accel;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The real jnr-ffi path against devices that are not KVM. */
public class KvmIoctlSelfTestTest {

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aMissingDeviceIsReportedAsEnoentAndNothingElseIsTried() {
        Path missing = tmp.getRoot().toPath().resolve("kvm");
        KvmIoctlSelfTest.Result r = new KvmIoctlSelfTest(missing).run();

        assertEquals(KvmIoctlSelfTest.Outcome.NO_DEVICE, r.outcome());
        assertEquals("cannot open " + missing + ": ENOENT (No such file or directory)", r.reason());
        assertTrue(r.steps().get("libc"), r.steps().get("libc").endsWith("getpid()=" + ProcessHandle.current().pid()));
        assertTrue(r.steps().get("open " + missing).startsWith("failed "));
        assertEquals("only libc and open: " + r.steps(), 2, r.steps().size());
    }

    @Test
    public void aDirectoryCannotBeOpenedReadWrite() {
        KvmIoctlSelfTest.Result r = new KvmIoctlSelfTest(tmp.getRoot().toPath()).run();
        assertEquals(KvmIoctlSelfTest.Outcome.NO_DEVICE, r.outcome());
        assertTrue(r.reason(), r.reason().contains("errno 21") || r.reason().contains("Is a directory"));
    }

    @Test
    public void aDeviceThatIsNotKvmFailsAtTheFirstIoctlAndItsFdIsClosed() throws IOException {
        KvmIoctlSelfTest.libc(); // loading jffi opens files of its own; count after it
        long fdsBefore = openFds();
        KvmIoctlSelfTest.Result r = new KvmIoctlSelfTest(Path.of("/dev/null")).run();

        assertEquals(KvmIoctlSelfTest.Outcome.FAILED, r.outcome());
        assertEquals("KVM ioctl self-test failed at KVM_GET_API_VERSION: KVM_GET_API_VERSION failed: "
                + "ENOTTY (Inappropriate ioctl for device)", r.reason());
        assertTrue(r.steps().get("open /dev/null"), r.steps().get("open /dev/null").startsWith("ok "));
        assertTrue(r.steps().get("release"), r.steps().get("release").startsWith("ok ")
                && r.steps().get("release").endsWith("1 fds and mappings released"));
        assertFalse(r.steps().containsKey("KVM_CREATE_VM"));
        assertEquals("no fd leaked", fdsBefore, openFds());
    }

    /**
     * Where /dev/kvm opens, everything up to the guest's memory is plain libc and KVM's own API, which even a PVM
     * host answers: a failure there is ours (a wrong mmap argument, say), and would send a real KVM host to TCG.
     */
    @Test
    public void onAHostWithKvmTheSelfTestGetsPastItsOwnMappings() throws IOException {
        Path kvm = Path.of("/dev/kvm");
        org.junit.Assume.assumeTrue("this host has a usable /dev/kvm", Files.isReadable(kvm) && Files.isWritable(kvm));
        KvmIoctlSelfTest.Result r = new KvmIoctlSelfTest(kvm).run();
        System.out.println("self-test on this host: " + r.outcome() + ": " + r.reason() + " " + r.steps());
        for (String step : new String[] { "KVM_CREATE_VM", "guest memory", "KVM_CREATE_VCPU", "kvm_run mmap" }) {
            assertTrue(step + ": " + r.steps(), r.steps().getOrDefault(step, "not run").startsWith("ok "));
        }
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}

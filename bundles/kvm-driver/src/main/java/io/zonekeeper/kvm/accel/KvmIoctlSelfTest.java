package io.zonekeeper.kvm.accel;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * Step 1 of the accelerator decision: drive /dev/kvm through its ioctls and run a tiny long-mode guest
 * ({@link LongModeGuest}) to its port write and HLT. Passing says the ioctl path works; it does not say a real
 * kernel will boot (a PVM host passes this and still cannot run Debian's kernel), which is why a probe boot follows.
 *
 * <p>jffi is loaded on the first {@link #run()}, never at bundle activation: loading it in a fresh class loader
 * costs tens of milliseconds.
 */
public final class KvmIoctlSelfTest {

    static final Path DEFAULT_DEVICE = Path.of("/dev/kvm");

    enum Outcome {
        /** Every ioctl answered as expected and the guest wrote the right value, then halted. */
        PASSED,
        /** The device is missing or cannot be opened: nothing else was tried. */
        NO_DEVICE,
        /** The device opened but a later step failed. */
        FAILED
    }

    record Result(Outcome outcome, String reason, Map<String, String> steps) {
    }

    private static final Object LIBC_LOCK = new Object();
    private static Libc libc;

    private static final int EINTR = 4;

    private final Path device;

    KvmIoctlSelfTest(Path device) {
        this.device = device;
    }

    KvmIoctlSelfTest() {
        this(DEFAULT_DEVICE);
    }

    /** libc bound through jnr-ffi, loaded on first use. */
    public static Libc libc() {
        synchronized (LIBC_LOCK) {
            if (libc == null) {
                libc = LibraryLoader.create(Libc.class).load("c");
            }
            return libc;
        }
    }

    Result run() {
        StepLog log = new StepLog();
        Libc c;
        long t = System.nanoTime();
        try {
            c = libc();
            int pid = c.getpid();
            log.ok("libc", t, "jnr-ffi bound libc, getpid()=" + pid);
        } catch (RuntimeException | LinkageError e) {
            log.failed("libc", t, String.valueOf(e));
            return new Result(Outcome.FAILED, "jnr-ffi could not bind libc: " + e, log.asMap());
        }
        return new Run(c, log).execute();
    }

    /** One pass through the ioctls; owns every fd and mapping it makes and releases them in reverse order. */
    private final class Run {
        private final Libc c;
        private final Runtime runtime;
        private final StepLog log;
        private final Deque<Release> releases = new ArrayDeque<>();

        private int kvm = -1;
        private int vm = -1;
        private int vcpu = -1;
        private Pointer run;
        private int runSize;

        Run(Libc c, StepLog log) {
            this.c = c;
            this.runtime = Runtime.getRuntime(c);
            this.log = log;
        }

        Result execute() {
            String name = "open " + device;
            long t = System.nanoTime();
            kvm = c.open(device.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
            if (kvm < 0) {
                String why = Errno.describe(runtime.getLastError(), c);
                log.failed(name, t, why);
                return new Result(Outcome.NO_DEVICE, "cannot open " + device + ": " + why, log.asMap());
            }
            releases.push(new Release("close kvm fd", () -> c.close(kvm)));
            log.ok(name, t, "fd " + kvm);
            Outcome outcome;
            String reason;
            try {
                step("KVM_GET_API_VERSION", this::apiVersion);
                step("KVM_CHECK_EXTENSION", this::extensions);
                step("KVM_CREATE_VM", this::createVm);
                step("guest memory", this::guestMemory);
                step("KVM_CREATE_VCPU", this::createVcpu);
                step("kvm_run mmap", this::mapRun);
                step("long mode", this::longMode);
                step("KVM_RUN port write", this::runToPortWrite);
                step("KVM_RUN hlt", this::runToHalt);
                outcome = Outcome.PASSED;
                reason = String.format("KVM ioctl self-test passed: a long-mode guest wrote 0x%x to port 0x%x and halted",
                        LongModeGuest.EXPECTED_VALUE, LongModeGuest.PROBE_PORT);
            } catch (StepFailed f) {
                outcome = Outcome.FAILED;
                reason = "KVM ioctl self-test failed at " + f.step + ": " + f.getMessage();
            } finally {
                releaseAll();
            }
            return new Result(outcome, reason, log.asMap());
        }

        private void step(String name, StepBody body) throws StepFailed {
            long t = System.nanoTime();
            try {
                log.ok(name, t, body.run());
            } catch (StepFailed f) {
                f.step = name;
                log.failed(name, t, f.getMessage());
                throw f;
            } catch (RuntimeException | LinkageError e) {
                log.failed(name, t, String.valueOf(e));
                StepFailed f = new StepFailed(String.valueOf(e));
                f.step = name;
                throw f;
            }
        }

        private int ioctl(int fd, long request, long arg, String what) throws StepFailed {
            int r;
            int errno;
            do {
                r = c.ioctl(fd, request, arg);
                errno = r < 0 ? runtime.getLastError() : 0;
            } while (r < 0 && errno == EINTR);
            if (r < 0) {
                throw new StepFailed(what + " failed: " + Errno.describe(errno, c));
            }
            return r;
        }

        private String apiVersion() throws StepFailed {
            int version = ioctl(kvm, KvmAbi.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
            if (version != KvmAbi.API_VERSION) {
                throw new StepFailed("API version " + version + ", expected " + KvmAbi.API_VERSION);
            }
            return "version " + version;
        }

        private String extensions() throws StepFailed {
            List<String> missing = new ArrayList<>();
            for (Map.Entry<String, Integer> cap : KvmAbi.CAPS_A_ZONE_NEEDS.entrySet()) {
                if (ioctl(kvm, KvmAbi.KVM_CHECK_EXTENSION, cap.getValue(), "KVM_CHECK_EXTENSION " + cap.getKey()) <= 0) {
                    missing.add("KVM_CAP_" + cap.getKey());
                }
            }
            if (!missing.isEmpty()) {
                throw new StepFailed("missing " + String.join(", ", missing));
            }
            return KvmAbi.CAPS_A_ZONE_NEEDS.size() + " capabilities present";
        }

        private String createVm() throws StepFailed {
            vm = ioctl(kvm, KvmAbi.KVM_CREATE_VM, 0, "KVM_CREATE_VM");
            releases.push(new Release("close vm fd", () -> c.close(vm)));
            return "fd " + vm;
        }

        private String guestMemory() throws StepFailed {
            long size = LongModeGuest.MEMORY_SIZE;
            long addr = c.syscall(Libc.SYS_MMAP, 0, size, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
            if (addr == Libc.MAP_FAILED) {
                throw new StepFailed("mmap of guest memory failed: " + Errno.describe(runtime.getLastError(), c));
            }
            releases.push(new Release("munmap guest memory", () -> c.munmap(addr, size)));
            byte[] image = LongModeGuest.image();
            Pointer.wrap(runtime, addr, size).put(0, image, 0, image.length);

            Pointer region = Memory.allocateDirect(runtime, KvmAbi.SIZEOF_USERSPACE_MEMORY_REGION);
            region.putInt(0, 0);        // slot
            region.putInt(4, 0);        // flags
            region.putLong(8, 0L);      // guest_phys_addr
            region.putLong(16, size);   // memory_size
            region.putLong(24, addr);   // userspace_addr
            ioctl(vm, KvmAbi.KVM_SET_USER_MEMORY_REGION, region.address(), "KVM_SET_USER_MEMORY_REGION");
            return (size >> 20) + " MiB at guest 0x0, page tables at 0x" + Long.toHexString(LongModeGuest.PML4_ADDR);
        }

        private String createVcpu() throws StepFailed {
            vcpu = ioctl(vm, KvmAbi.KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
            releases.push(new Release("close vcpu fd", () -> c.close(vcpu)));
            return "fd " + vcpu;
        }

        private String mapRun() throws StepFailed {
            runSize = ioctl(kvm, KvmAbi.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
            if (runSize < 64) {
                throw new StepFailed("KVM_GET_VCPU_MMAP_SIZE said " + runSize + " bytes");
            }
            long addr = c.syscall(Libc.SYS_MMAP, 0, runSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpu, 0);
            if (addr == Libc.MAP_FAILED) {
                throw new StepFailed("mmap of kvm_run failed: " + Errno.describe(runtime.getLastError(), c));
            }
            int size = runSize;
            releases.push(new Release("munmap kvm_run", () -> c.munmap(addr, size)));
            run = Pointer.wrap(runtime, addr, runSize);
            return runSize + " bytes";
        }

        private String longMode() throws StepFailed {
            Pointer sregs = Memory.allocateDirect(runtime, KvmAbi.SIZEOF_SREGS);
            ioctl(vcpu, KvmAbi.KVM_GET_SREGS, sregs.address(), "KVM_GET_SREGS");
            byte[] raw = new byte[KvmAbi.SIZEOF_SREGS];
            sregs.get(0, raw, 0, raw.length);
            LongModeGuest.patchSregs(ByteBuffer.wrap(raw));
            sregs.put(0, raw, 0, raw.length);
            ioctl(vcpu, KvmAbi.KVM_SET_SREGS, sregs.address(), "KVM_SET_SREGS");

            Pointer regs = Memory.allocateDirect(runtime, KvmAbi.SIZEOF_REGS);
            byte[] r = LongModeGuest.regs();
            regs.put(0, r, 0, r.length);
            ioctl(vcpu, KvmAbi.KVM_SET_REGS, regs.address(), "KVM_SET_REGS");
            return String.format("CR3=0x%x EFER=LME|LMA RIP=0x%x", LongModeGuest.PML4_ADDR, LongModeGuest.CODE_ADDR);
        }

        private String runToPortWrite() throws StepFailed {
            ByteBuffer state = runOnce();
            int reason = exitReason(state);
            if (reason != KvmAbi.KVM_EXIT_IO) {
                throw new StepFailed(unexpectedExit(state, reason, "KVM_EXIT_IO"));
            }
            LongModeGuest.IoExit io = LongModeGuest.IoExit.read(state);
            String mismatch = io.mismatch();
            if (mismatch != null) {
                throw new StepFailed("KVM_EXIT_IO with " + mismatch);
            }
            return "KVM_EXIT_IO " + io;
        }

        private String runToHalt() throws StepFailed {
            ByteBuffer state = runOnce();
            int reason = exitReason(state);
            if (reason != KvmAbi.KVM_EXIT_HLT) {
                throw new StepFailed(unexpectedExit(state, reason, "KVM_EXIT_HLT"));
            }
            return "KVM_EXIT_HLT";
        }

        private ByteBuffer runOnce() throws StepFailed {
            ioctl(vcpu, KvmAbi.KVM_RUN, 0, "KVM_RUN");
            byte[] copy = new byte[runSize];
            run.get(0, copy, 0, copy.length);
            return ByteBuffer.wrap(copy);
        }

        private int exitReason(ByteBuffer state) {
            return state.order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(KvmAbi.RUN_EXIT_REASON);
        }

        private String unexpectedExit(ByteBuffer state, int reason, String expected) {
            String got = KvmAbi.exitReasonName(reason);
            if (reason == KvmAbi.KVM_EXIT_INTERNAL_ERROR) {
                got += " suberror " + state.getInt(KvmAbi.RUN_INTERNAL_SUBERROR);
            }
            return got + ", expected " + expected;
        }

        private void releaseAll() {
            long t = System.nanoTime();
            List<String> failures = new ArrayList<>();
            int count = releases.size();
            while (!releases.isEmpty()) {
                Release r = releases.pop();
                try {
                    if (r.action.call() != 0) {
                        failures.add(r.what + ": " + Errno.describe(runtime.getLastError(), c));
                    }
                } catch (RuntimeException | LinkageError e) {
                    failures.add(r.what + ": " + e);
                }
            }
            if (failures.isEmpty()) {
                log.ok("release", t, count + " fds and mappings released");
            } else {
                log.failed("release", t, String.join("; ", failures));
            }
        }
    }

    @FunctionalInterface
    private interface StepBody {
        String run() throws StepFailed;
    }

    @FunctionalInterface
    private interface NativeCall {
        int call();
    }

    private record Release(String what, NativeCall action) {
    }

    private static final class StepFailed extends Exception {
        private static final long serialVersionUID = 1L;
        String step = "?";

        StepFailed(String message) {
            super(message, null, false, false);
        }
    }
}

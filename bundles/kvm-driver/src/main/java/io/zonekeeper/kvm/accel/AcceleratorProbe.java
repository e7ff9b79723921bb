package io.zonekeeper.kvm.accel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import io.zonekeeper.hostio.ProcessRunner;

/**
 * Decides between KVM and TCG for a zone, honestly: an ioctl self-test through /dev/kvm (step 1), then a probe
 * boot of the real zone kernel under KVM with a short deadline (step 2). A host where /dev/kvm exists but cannot
 * run a real kernel (PVM) passes step 1 and fails step 2, and gets TCG.
 *
 * <p>Verdicts are cached as JSON in {@code cacheDir}, keyed by the host's boot_id, the kernel's path, size and
 * mtime, and {@code qemu --version}. "Cannot open /dev/kvm" is not cached: it costs one open(2) to find out again,
 * and loading the kvm module or fixing the device's permissions should not need a reboot to be noticed.
 *
 * <p>Nothing native is loaded before the first {@link #decide} in auto mode.
 */
public final class AcceleratorProbe {

    /** What the decision needs from the host; tests replace it. */
    interface Host {
        KvmIoctlSelfTest.Result ioctlSelfTest();

        ProbeBoot.Result probeBoot(Path kernel, Path probeInitramfs, String probeMarker);

        String bootId() throws IOException;

        String qemuVersion() throws IOException;
    }

    private final VerdictCache cache;
    private final Host host;
    private final Clock clock;

    public AcceleratorProbe(Path cacheDir, String qemuBinary) {
        this(cacheDir, new RealHost(Objects.requireNonNull(qemuBinary, "qemuBinary")), Clock.systemUTC());
    }

    AcceleratorProbe(Path cacheDir, Host host, Clock clock) {
        this.cache = new VerdictCache(Objects.requireNonNull(cacheDir, "cacheDir"));
        this.host = host;
        this.clock = clock;
    }

    /**
     * @param override       "auto", "kvm" or "tcg" (null or blank mean auto); "kvm" and "tcg" skip every test
     * @param kernel         the zone kernel to probe-boot
     * @param probeInitramfs an initramfs whose /init prints {@code probeMarker} on ttyS0 then powers off
     * @param probeMarker    the text that proves the guest reached init
     * @throws IllegalArgumentException for any other override
     */
    public synchronized AccelVerdict decide(String override, Path kernel, Path probeInitramfs, String probeMarker) {
        String mode = override == null || override.isBlank() ? "auto" : override.strip().toLowerCase(Locale.ROOT);
        switch (mode) {
            case AccelVerdict.KVM:
            case AccelVerdict.TCG:
                return new AccelVerdict(mode, "forced by config accel=" + mode,
                        Map.of("override", "accel=" + mode + ": self-test and probe boot skipped"));
            case "auto":
                return auto(kernel, probeInitramfs, probeMarker);
            default:
                throw new IllegalArgumentException("accel must be auto, kvm or tcg, not '" + override + "'");
        }
    }

    private AccelVerdict auto(Path kernel, Path probeInitramfs, String probeMarker) {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(probeInitramfs, "probeInitramfs");
        Objects.requireNonNull(probeMarker, "probeMarker");
        StepLog log = new StepLog();
        ProbeKey key = null;
        try {
            key = key(kernel);
        } catch (IOException | RuntimeException e) {
            log.note("cache", "off: cannot build the cache key: " + e.getMessage());
        }
        if (key != null) {
            VerdictCache.Lookup found = cache.lookup(key);
            if (found.hit()) {
                return found.verdict();
            }
            log.note("cache", found.line());
        }

        KvmIoctlSelfTest.Result selfTest = host.ioctlSelfTest();
        log.addAll(selfTest.steps());
        switch (selfTest.outcome()) {
            case NO_DEVICE:
                return new AccelVerdict(AccelVerdict.TCG, selfTest.reason(), log.asMap());
            case FAILED:
                return remember(key, AccelVerdict.TCG, selfTest.reason(), log);
            case PASSED:
            default:
                break;
        }
        ProbeBoot.Result boot = host.probeBoot(kernel, probeInitramfs, probeMarker);
        log.addAll(boot.steps());
        return remember(key, boot.reachedInit() ? AccelVerdict.KVM : AccelVerdict.TCG, boot.reason(), log);
    }

    private AccelVerdict remember(ProbeKey key, String accel, String reason, StepLog log) {
        if (key != null) {
            long t = System.nanoTime();
            try {
                cache.store(key, new AccelVerdict(accel, reason, log.asMap()), clock.instant());
                log.ok("cache store", t, cache.fileFor(key.kernelPath()).toString());
            } catch (IOException | RuntimeException e) {
                log.failed("cache store", t, String.valueOf(e));
            }
        }
        return new AccelVerdict(accel, reason, log.asMap());
    }

    private ProbeKey key(Path kernel) throws IOException {
        Path abs = kernel.toAbsolutePath().normalize();
        BasicFileAttributes attrs = Files.readAttributes(abs, BasicFileAttributes.class);
        return new ProbeKey(host.bootId(), abs.toString(), attrs.size(), attrs.lastModifiedTime().toMillis(),
                host.qemuVersion());
    }

    /** The real host: /dev/kvm through jnr-ffi, QEMU as a process, /proc for the boot id. */
    static final class RealHost implements Host {
        private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

        private final String qemuBinary;
        private String versionMemo;
        private String versionMemoStamp;

        RealHost(String qemuBinary) {
            this.qemuBinary = qemuBinary;
        }

        @Override
        public KvmIoctlSelfTest.Result ioctlSelfTest() {
            return new KvmIoctlSelfTest().run();
        }

        @Override
        public ProbeBoot.Result probeBoot(Path kernel, Path probeInitramfs, String probeMarker) {
            return new ProbeBoot(qemuBinary).run(kernel, probeInitramfs, probeMarker);
        }

        @Override
        public String bootId() throws IOException {
            return Files.readString(BOOT_ID, StandardCharsets.US_ASCII).strip();
        }

        /** First line of {@code qemu --version}; asked again only when the binary's size or mtime changes. */
        @Override
        public synchronized String qemuVersion() throws IOException {
            String stamp = stamp(resolve(qemuBinary));
            if (versionMemo != null && stamp != null && stamp.equals(versionMemoStamp)) {
                return versionMemo;
            }
            String out = new ProcessRunner(Duration.ofSeconds(10), 64 * 1024).run(List.of(qemuBinary, "--version"))
                    .requireSuccess();
            String first = out.strip().lines().findFirst().orElse("");
            if (first.isEmpty()) {
                throw new IOException(qemuBinary + " --version printed nothing");
            }
            versionMemo = first;
            versionMemoStamp = stamp;
            return first;
        }

        private static Path resolve(String binary) {
            if (binary.contains("/")) {
                return Path.of(binary);
            }
            String pathVar = System.getenv("PATH");
            if (pathVar != null) {
                for (String d : pathVar.split(":")) {
                    Path candidate = Path.of(d.isEmpty() ? "." : d, binary);
                    if (Files.isExecutable(candidate)) {
                        return candidate;
                    }
                }
            }
            return null;
        }

        private static String stamp(Path p) {
            if (p == null) {
                return null;
            }
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                return p.toRealPath() + ":" + a.size() + ":" + a.lastModifiedTime().toMillis();
            } catch (IOException e) {
                return null;
            }
        }
    }
}

package io.zonekeeper.kvm.accel;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Decides between KVM and TCG for a zone: an ioctl self-test through /dev/kvm, then a probe boot of the
 * real zone kernel under KVM with a short deadline, cached per host boot, kernel and QEMU version.
 */
public final class AcceleratorProbe {

    private final Path cacheDir;
    private final String qemuBinary;

    public AcceleratorProbe(Path cacheDir, String qemuBinary) {
        this.cacheDir = Objects.requireNonNull(cacheDir, "cacheDir");
        this.qemuBinary = Objects.requireNonNull(qemuBinary, "qemuBinary");
    }

    /**
     * @param override       "auto", "kvm" or "tcg"
     * @param kernel         the zone kernel to probe-boot
     * @param probeInitramfs an initramfs whose /init prints {@code probeMarker} on ttyS0 then powers off
     * @param probeMarker    the line that proves the guest reached init
     */
    public AccelVerdict decide(String override, Path kernel, Path probeInitramfs, String probeMarker) {
        // Placeholder until the self-test lands: the safe answer.
        return new AccelVerdict(AccelVerdict.TCG, "accelerator self-test not implemented yet", Map.of());
    }
}

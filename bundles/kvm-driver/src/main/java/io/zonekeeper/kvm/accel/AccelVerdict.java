package io.zonekeeper.kvm.accel;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The accelerator a zone's QEMU should get, why, and what each self-test step found.
 *
 * @param accel  {@code "kvm"} or {@code "tcg"}
 * @param reason one line a person can read, e.g. "forced by config accel=tcg"
 * @param steps  step name to outcome line ("ok 0.1 ms", "failed: ..."), in the order run
 */
public record AccelVerdict(String accel, String reason, Map<String, String> steps) {

    public static final String KVM = "kvm";
    public static final String TCG = "tcg";

    public AccelVerdict {
        Objects.requireNonNull(accel, "accel");
        Objects.requireNonNull(reason, "reason");
        if (!KVM.equals(accel) && !TCG.equals(accel)) {
            throw new IllegalArgumentException("accel must be kvm or tcg: " + accel);
        }
        steps = steps == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(steps));
    }

    public boolean isKvm() {
        return KVM.equals(accel);
    }
}

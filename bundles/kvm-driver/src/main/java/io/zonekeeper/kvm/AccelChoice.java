package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.zonekeeper.kvm.accel.AccelVerdict;
import io.zonekeeper.kvm.accel.AcceleratorProbe;
import io.zonekeeper.kvm.image.ZoneImages;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.DriverException;

/**
 * The accelerator a boot kernel gets under one driver configuration: decided by the ioctl self-test and the probe
 * boot the first time a zone needs it (AcceleratorProbe keeps verdicts across restarts too), then remembered for
 * the life of this configuration.
 */
final class AccelChoice {
    private final String setting;
    private final String qemuBinary;
    private final ZoneImages images;
    private final Map<Path, AccelVerdict> verdicts = new ConcurrentHashMap<>();
    private volatile AccelVerdict last;

    /** @param setting {@code auto}, {@code kvm} or {@code tcg} */
    AccelChoice(String setting, String qemuBinary, ZoneImages images) {
        this.setting = setting;
        this.qemuBinary = qemuBinary;
        this.images = images;
    }

    AccelVerdict forImage(BootImage image) throws DriverException {
        AccelVerdict v = verdicts.get(image.bootKernel());
        if (v == null) {
            if ("tcg".equals(setting)) {
                v = new AccelVerdict(AccelVerdict.TCG, "forced by configuration accel=tcg", Map.of());
            } else {
                try {
                    Path probe = images.probeInitramfs(KvmDriver.PROBE_MARKER);
                    v = new AcceleratorProbe(images.cacheDir().resolve("accel"), qemuBinary)
                            .decide(setting, image.bootKernel(), probe, KvmDriver.PROBE_MARKER);
                } catch (IOException e) {
                    throw new DriverException("cannot build the accelerator probe image: " + e.getMessage(), e);
                } catch (RuntimeException e) {
                    throw new DriverException("the accelerator self-test failed: " + e, e);
                }
            }
            verdicts.put(image.bootKernel(), v);
        }
        last = v;
        return v;
    }

    /** The verdict of the latest start, or null before the first. */
    AccelVerdict last() {
        return last;
    }
}

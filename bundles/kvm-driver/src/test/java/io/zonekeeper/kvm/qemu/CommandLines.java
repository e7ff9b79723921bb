package io.zonekeeper.kvm.qemu;

import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.spi.PreparedResources;

/** What the tests of rendered QEMU command lines share: one zone's identity and files, and reading options back. */
public final class CommandLines {
    public static final UUID ID = UUID.fromString("0b0e8d3c-4f6a-4a51-9d4e-1f2a3b4c5d6e");
    public static final ZoneFiles FILES = new ZoneFiles(Path.of("/var/lib/zk/zones/web"));
    private static final QemuCommandLine TCG = new QemuCommandLine("qemu-system-x86_64", "tcg",
            OptionalLong.of(2096013));

    private CommandLines() {
    }

    /** Renders under TCG as a start plan does for this spec: on the cheapest machine its devices allow. */
    static List<String> render(ZoneSpec spec, ZoneFiles files, BootImage image, PreparedResources res) {
        return TCG.render(ID, spec.name(), spec, files, image, res, machineFor(res));
    }

    static List<String> render(ZoneSpec spec, ZoneFiles files, BootImage image) {
        return render(spec, files, image, PreparedResources.NONE);
    }

    static Machine machineFor(PreparedResources res) {
        return QemuDevices.machineFor(res, Machine.MICROVM_PVH);
    }

    /** The value after the first {@code option}. */
    public static String after(List<String> args, String option) {
        int i = args.indexOf(option);
        assertTrue(option + " in " + args, i >= 0 && i + 1 < args.size());
        return args.get(i + 1);
    }

    /** The value after each {@code option}, in order. */
    public static List<String> all(List<String> args, String option) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).equals(option)) {
                out.add(args.get(i + 1));
            }
        }
        return out;
    }
}

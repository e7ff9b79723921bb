package io.zonekeeper.kvm;

import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.zonekeeper.kvm.qemu.QemuProcess;

/** What the jail's boot tests share: their prerequisites, waiting for a guest's line, and the cleanup after them. */
final class JailedBoots {
    private JailedBoots() {
    }

    static void needQemuAndBusybox() {
        BootPrerequisites.need("qemu-system-x86_64 is installed", Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "qemu-system-x86_64"))));
        BootPrerequisites.need("busybox-static is installed", Files.isRegularFile(Path.of("/bin/busybox")));
    }

    /** Stops the driver's watching, kills every QEMU this JVM started and removes the test's folders. */
    static void cleanUp(KvmDriver driver, List<Path> dirs) throws IOException {
        if (driver != null) {
            driver.deactivate();
        }
        OurQemus.kill(); // QEMU runs detached (setsid --fork): found by the mark the launch gives it
        for (Path d : dirs) {
            try (Stream<Path> walk = Files.walk(d)) {
                walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Waits up to 2 minutes (a TCG boot on a loaded shared host) for {@code text} in the zone's console log. */
    static void waitForConsole(TestZone z, String text) throws Exception {
        Path log = z.directory().resolve("console.log");
        for (int i = 0; i < 2400; i++) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(text)) {
                return;
            }
            Thread.sleep(50);
        }
        fail("console of " + z.name() + " never showed '" + text + "'");
    }
}

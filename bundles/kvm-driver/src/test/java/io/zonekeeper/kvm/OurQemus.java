package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.kvm.qemu.QemuProcess;

/**
 * The live QEMUs this test JVM launched. They run detached ({@code setsid --fork}), so they are not its descendants;
 * the driver names the launching JVM in each QEMU's environment, which other test runs on the machine do not share.
 */
final class OurQemus {
    private OurQemus() {
    }

    static List<ProcessHandle> live() {
        String mark = QemuProcess.LAUNCHED_BY + "=" + ProcessHandle.current().pid();
        return ProcessHandle.allProcesses().filter(QemuProcess::running)
                .filter(h -> QemuProcess.cmdline(h.pid()).stream().findFirst().orElse("").contains("qemu-system"))
                .filter(h -> environment(h.pid()).contains(mark)).toList();
    }

    /** Kills them by PID and waits a little for each to be gone. */
    static void kill() {
        for (ProcessHandle h : live()) {
            h.destroyForcibly();
            h.onExit().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> h).join();
        }
    }

    private static List<String> environment(long pid) {
        try {
            return Arrays.asList(new String(Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "environ")),
                    StandardCharsets.UTF_8).split("\0"));
        } catch (IOException e) {
            return List.of();
        }
    }
}

package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.spi.DriverException;

/** What one start attempt made in the zone's folder, so that a failure takes exactly that back. */
final class StartAttempt {
    private final ZoneFiles files;
    private final ZoneSpec spec;
    private long consoleLogSize = -1;
    private boolean madeChannelsDir;

    StartAttempt(ZoneFiles files, ZoneSpec spec) {
        this.files = files;
        this.spec = spec;
    }

    /** Clears what a QEMU that is gone left behind, and notes what this attempt is about to add. */
    void prepare() throws DriverException {
        try {
            Files.createDirectories(files.dir());
            if (Files.exists(files.consoleLog())) {
                consoleLogSize = Files.size(files.consoleLog());
            }
            KvmDriver.removeRuntimeFiles(files, spec);
            if (!spec.channels().isEmpty() && !Files.isDirectory(files.channelsDir())) {
                Files.createDirectory(files.channelsDir());
                madeChannelsDir = true;
            }
        } catch (IOException e) {
            throw new DriverException("cannot prepare " + files.dir() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Ends the attempt's QEMU, if it still runs, takes back its files, and says why the zone did not start: in
     * QEMU's own words where QEMU gave up by itself (a kernel it cannot load, say).
     *
     * @param process the launched QEMU, or null when the launch itself failed
     */
    DriverException failed(String zone, QemuProcess process, Exception e) {
        String msg = "zone " + zone + " did not start: ";
        // QEMU that gave up may close QMP a moment before it exits; on a loaded host that moment is long.
        if (process != null && !process.waitFor(Duration.ofSeconds(1))) {
            process.kill(Duration.ofSeconds(5));
            msg += e.getMessage();
            if (!(e instanceof DriverException) && Files.exists(files.qemuLog())) {
                msg += "; QEMU said: " + QemuProcess.tail(files.qemuLog(), 1500);
            }
        } else if (process != null) {
            msg += "QEMU exited at start" + process.exitCode().stream().mapToObj(c -> " with code " + c)
                    .findFirst().orElse("") + ": " + QemuProcess.tail(files.qemuLog(), 1500);
        } else {
            msg += e.getMessage();
        }
        undo();
        return new DriverException(msg, e);
    }

    private void undo() {
        KvmDriver.removeRuntimeFiles(files, spec);
        ZoneWatch.deleteQuietly(files.qemuLog());
        if (madeChannelsDir) {
            ZoneWatch.deleteQuietly(files.channelsDir());
        }
        try {
            if (consoleLogSize < 0) {
                Files.deleteIfExists(files.consoleLog());
            } else if (Files.exists(files.consoleLog())) {
                try (FileChannel ch = FileChannel.open(files.consoleLog(), StandardOpenOption.WRITE)) {
                    ch.truncate(consoleLogSize);
                }
            }
        } catch (IOException ignored) {
            // the console log is the operator's to read; a few extra lines do no harm
        }
    }
}

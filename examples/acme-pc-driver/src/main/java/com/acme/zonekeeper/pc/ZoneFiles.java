package com.acme.zonekeeper.pc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What this driver keeps in a zone's folder. Short names: a Unix socket path has at most 107 bytes. */
final class ZoneFiles {
    private final Path dir;

    ZoneFiles(Path dir) {
        this.dir = dir;
    }

    Path qmpSocket() {
        return dir.resolve("qmp.sock");
    }

    Path pidFile() {
        return dir.resolve("qemu.pid");
    }

    Path qemuLog() {
        return dir.resolve("qemu.log");
    }

    Path consoleLog() {
        return dir.resolve("console.log");
    }

    Path initramfs() {
        return dir.resolve("initramfs.cpio");
    }

    /** What only a running QEMU needs. */
    void removeRuntimeFiles() {
        delete(qmpSocket());
        delete(pidFile());
    }

    /** Everything this driver made; the console log too unless {@code keepConsoleLog}. */
    void removeAll(boolean keepConsoleLog) {
        removeRuntimeFiles();
        delete(qemuLog());
        delete(initramfs());
        delete(initramfs().resolveSibling(initramfs().getFileName() + ".tmp"));
        if (!keepConsoleLog) {
            delete(consoleLog());
        }
    }

    private static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // Left for the next start or destroy; nothing runs on it.
        }
    }
}

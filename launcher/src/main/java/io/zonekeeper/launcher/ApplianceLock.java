package io.zonekeeper.launcher;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * One appliance per state directory: an OS lock on {@code <state>/appliance.lock}, held for the life of the JVM
 * and released by the OS even when the JVM is killed. The file holds the owner's PID, for messages only.
 */
final class ApplianceLock implements AutoCloseable {

    static final String FILE_NAME = "appliance.lock";

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private ApplianceLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, or returns empty when another process holds it. */
    static Optional<ApplianceLock> tryAcquire(Path stateDir) throws IOException {
        Path file = stateDir.resolve(FILE_NAME);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // held by this very JVM
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            return Optional.empty();
        }
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        channel.force(false);
        return Optional.of(new ApplianceLock(file, channel, lock));
    }

    /** The PID the current holder wrote, if it can be read. */
    static Optional<String> holder(Path stateDir) {
        try {
            String text = Files.readString(stateDir.resolve(FILE_NAME), StandardCharsets.US_ASCII).trim();
            return text.matches("\\d+") ? Optional.of(text) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    Path file() {
        return file;
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } finally {
            channel.close();
        }
    }
}

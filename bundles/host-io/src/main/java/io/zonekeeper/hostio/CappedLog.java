package io.zonekeeper.hostio;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Keeps a log that another process appends to (QEMU's chardev logfile, xenconsoled's guest log) under a cap, from
 * outside that process: when the log is over the cap, its newest {@code cap} bytes are copied to {@code NAME.1}
 * (replacing the one before) and the log is truncated to nothing.
 *
 * <p>This is safe only for a writer that opened the log with {@code O_APPEND} (QEMU does for
 * {@code logappend=on}): each of its writes goes to the end of the file as it is then, so after the truncation it
 * writes at offset 0 again instead of leaving a hole the size of the old log. What the writer appends between the
 * copy and the truncation is lost, as with logrotate's {@code copytruncate}; the copy takes milliseconds.
 *
 * <p>The bound holds only while someone calls {@link #rotate}: a log checked every {@code t} seconds holds at most
 * {@code cap} plus what the writer appends in {@code t} seconds, and {@code NAME.1} at most {@code cap}.
 */
public final class CappedLog {
    private CappedLog() {
    }

    /** {@code NAME.1} beside the log: the newest bytes of the log as it was before its last rotation. */
    public static Path rotated(Path log) {
        return log.resolveSibling(log.getFileName() + ".1");
    }

    /**
     * Rotates the log if it holds more than {@code cap} bytes.
     *
     * @return whether it rotated; false also when the log does not exist
     */
    public static boolean rotate(Path log, long cap) throws IOException {
        if (cap <= 0) {
            throw new IllegalArgumentException("a log cap must be positive, not " + cap);
        }
        if (!Files.isRegularFile(log) || Files.size(log) <= cap) {
            return false;
        }
        Path target = rotated(log);
        Path temp = log.resolveSibling("." + target.getFileName() + ".tmp");
        try (FileChannel in = FileChannel.open(log, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
            long end = in.size();
            long pos = Math.max(0, end - cap);
            while (pos < end) {
                long n = in.transferTo(pos, end - pos, out);
                if (n <= 0) {
                    break; // shrunk meanwhile
                }
                pos += n;
            }
            in.truncate(0);
        }
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return true;
    }
}

package io.zonekeeper.hostio;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The writer that {@link AtomicFilesTest} kills: replaces the file with generation 1, 2, 3, ... until it is
 * killed. Says when its first write is done. Writes in small pieces, so that a kill lands in the middle of a write as often as between write and
 * rename.
 */
public final class AtomicWriterLoop {
    private AtomicWriterLoop() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        long generation = Long.parseLong(args[1]);
        long first = generation + 1;
        while (true) {
            generation++;
            byte[] content = content(generation).getBytes(StandardCharsets.UTF_8);
            AtomicFiles.write(file, out -> {
                for (int at = 0; at < content.length; at += 4096) {
                    out.write(content, at, Math.min(4096, content.length - at));
                    out.flush();
                }
            });
            if (generation == first) {
                // Once warm, so that the kill that follows lands in the loop rather than in the JVM's start.
                System.out.println("wrote " + generation);
                System.out.flush();
            }
        }
    }

    /** Generation {@code g}: a first line that names it, 2,000 lines that repeat it, and a last line. */
    static String content(long g) {
        return "generation " + g + "\n" + ("line of generation " + g + "\n").repeat(2000) + "end of " + g + "\n";
    }
}

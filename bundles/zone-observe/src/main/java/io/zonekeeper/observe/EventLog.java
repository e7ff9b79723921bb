package io.zonekeeper.observe;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.FileTail;

/**
 * The last {@code capacity} events, in memory and in a file that survives a restart. The file gets one JSON line per
 * event; when it holds twice the capacity it is rewritten (atomically, via host-io) with the newest {@code capacity},
 * so it never grows past about {@code 2 * capacity} lines. Lines that cannot be read (a torn last line after a power
 * loss) are skipped on load.
 */
final class EventLog {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.observe");
    /** The most a load reads from the end of the file: far more than 2 * capacity lines of bounded events. */
    private static final int LOAD_BYTES = 64 << 20;

    private final Path file;
    private final int capacity;
    private final Deque<RecordedEvent> recent = new ArrayDeque<>();
    private final List<Consumer<RecordedEvent>> followers = new CopyOnWriteArrayList<>();
    private int linesInFile;

    EventLog(Path file, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("an event log keeps at least one event, not " + capacity);
        }
        this.file = file;
        this.capacity = capacity;
    }

    /** Reads what the last run kept. */
    synchronized void open() throws IOException {
        Files.createDirectories(file.getParent());
        if (!Files.isRegularFile(file)) {
            return;
        }
        String text = new String(FileTail.read(file, LOAD_BYTES).bytes(), StandardCharsets.UTF_8);
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            linesInFile++;
            try {
                remember(RecordedEvent.parse(line));
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "skipped an unreadable line of " + file + ": " + e.getMessage());
            }
        }
    }

    /** Keeps the event, in memory and on disk, and hands it to every follower. */
    void append(RecordedEvent e) {
        synchronized (this) {
            remember(e);
            try {
                if (linesInFile + 1 > 2 * capacity) {
                    StringBuilder all = new StringBuilder();
                    for (RecordedEvent r : recent) {
                        all.append(r.toJson()).append('\n');
                    }
                    AtomicFiles.writeString(file, all.toString());
                    linesInFile = recent.size();
                } else {
                    Files.writeString(file, e.toJson() + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                            StandardOpenOption.APPEND);
                    linesInFile++;
                }
            } catch (IOException ex) {
                LOG.log(Level.WARNING, "could not keep event " + e.topic() + " in " + file + ": " + ex.getMessage());
            }
        }
        for (Consumer<RecordedEvent> f : followers) {
            f.accept(e);
        }
    }

    /** The newest {@code n} events, oldest first. */
    synchronized List<RecordedEvent> last(int n) {
        List<RecordedEvent> all = new ArrayList<>(recent);
        return all.subList(Math.max(0, all.size() - n), all.size());
    }

    void follow(Consumer<RecordedEvent> follower) {
        followers.add(follower);
    }

    void unfollow(Consumer<RecordedEvent> follower) {
        followers.remove(follower);
    }

    private void remember(RecordedEvent e) {
        recent.addLast(e);
        while (recent.size() > capacity) {
            recent.removeFirst();
        }
    }
}

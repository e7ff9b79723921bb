package io.zonekeeper.hostio;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Finds the processes that carry a zone's VM uuid ({@code -uuid UUID} on their command line, as every QEMU the kvm
 * driver starts does), by reading {@code <proc>/PID/cmdline}. It is the last word before a zone's taps, leases and
 * disk locks are given back: while such a process lives, the guest may still hold them, whatever the records say
 * (a record can be lost to a kill -9 between a launch and its write).
 *
 * <p>The /proc root is a parameter so that tests can hand it a folder of their own.
 */
public final class GuestProcessScan {
    private static final String UUID_FLAG = "-uuid";
    private final Path procRoot;

    public GuestProcessScan(Path procRoot) {
        this.procRoot = procRoot;
    }

    /** The scan of this host's /proc. */
    public static GuestProcessScan host() {
        return new GuestProcessScan(Path.of("/proc"));
    }

    /** The pids of the live processes whose command line has {@code -uuid id}, in ascending order. */
    public List<Long> pidsOf(UUID id) {
        List<Long> pids = new ArrayList<>();
        all().forEach((pid, uuid) -> {
            if (uuid.equals(id)) {
                pids.add(pid);
            }
        });
        return pids;
    }

    /** Every live process with a {@code -uuid} on its command line, by pid; processes that vanish are skipped. */
    public Map<Long, UUID> all() {
        Map<Long, UUID> found = new TreeMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(procRoot)) {
            for (Path e : entries) {
                long pid = pidOf(e.getFileName().toString());
                if (pid > 0) {
                    byte[] raw = read(e.resolve("cmdline"));
                    // Only a command line with a "-uuid" argument before another can name one: the others (most
                    // of a host's processes) are not split into strings. This scan runs before every start,
                    // mostly before the JIT compiled it.
                    if (hasUuidFlag(raw)) {
                        uuidOn(split(raw)).ifPresent(u -> found.put(pid, u));
                    }
                }
            }
        } catch (IOException e) {
            // No /proc to read: nothing can be proven to run, and callers that must be sure check the root first.
        }
        return found;
    }

    /** The uuid after {@code -uuid} in {@code argv}, when there is a well-formed one. */
    public static Optional<UUID> uuidOn(List<String> argv) {
        for (int i = 0; i + 1 < argv.size(); i++) {
            if (argv.get(i).equals(UUID_FLAG)) {
                try {
                    return Optional.of(UUID.fromString(argv.get(i + 1)));
                } catch (IllegalArgumentException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    /** The NUL-separated arguments of a cmdline file; empty when it is gone, unreadable, or a zombie's. */
    public static List<String> cmdline(Path file) {
        return split(read(file));
    }

    /** A file's bytes; none when it is gone or unreadable. */
    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            return new byte[0];
        }
    }

    private static final byte[] FLAG_ARG = (UUID_FLAG + "\0").getBytes(StandardCharsets.US_ASCII);

    /** Whether {@code raw} holds the argument {@code -uuid} with another argument after it. */
    static boolean hasUuidFlag(byte[] raw) {
        outer:
        for (int at = 0; at + FLAG_ARG.length <= raw.length; at++) {
            if (at > 0 && raw[at - 1] != 0) {
                continue;
            }
            for (int i = 0; i < FLAG_ARG.length; i++) {
                if (raw[at + i] != FLAG_ARG[i]) {
                    continue outer;
                }
            }
            return at + FLAG_ARG.length < raw.length;
        }
        return false;
    }

    /** The NUL-separated arguments of a command line's bytes. */
    private static List<String> split(byte[] raw) {
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < raw.length) {
            args.add(new String(raw, start, raw.length - start, StandardCharsets.UTF_8));
        }
        return args;
    }

    private static long pidOf(String name) {
        if (name.isEmpty() || name.length() > 10) {
            return -1;
        }
        for (int i = 0; i < name.length(); i++) {
            if (!Character.isDigit(name.charAt(i))) {
                return -1;
            }
        }
        return Long.parseLong(name);
    }
}

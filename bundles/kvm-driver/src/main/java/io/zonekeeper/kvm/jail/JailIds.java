package io.zonekeeper.kvm.jail;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

import io.zonekeeper.spi.DriverException;

/**
 * Hands each zone's QEMU a numeric id of its own (used as both uid and gid) from a configured range, {@code base}
 * to {@code base + count - 1}. An id is free when no user in /etc/passwd, no group in /etc/group and no running
 * process has it, and no zone of this driver holds it. Checking processes, not only this driver's zones, keeps a
 * restarted appliance (or a second one on the same host) from giving a running QEMU's id to another zone.
 */
public final class JailIds {
    /** 64000: above Debian's dynamic ranges (1000-59999 users, 60000-64999 reserved, but unused by packages here). */
    public static final int DEFAULT_BASE = 64000;
    public static final int DEFAULT_COUNT = 1000;

    private final int base;
    private final int count;
    private final Supplier<Set<Integer>> hostIds;
    private final Map<UUID, Integer> held = new HashMap<>();

    /** @param hostIds the ids the host uses now (accounts, groups, processes), asked at each allocation */
    public JailIds(int base, int count, Supplier<Set<Integer>> hostIds) {
        refuseBadRange(base, count);
        this.base = base;
        this.count = count;
        this.hostIds = hostIds;
    }

    /** Ids read from this host's /etc/passwd, /etc/group and /proc. */
    public static JailIds forHost(int base, int count) {
        return new JailIds(base, count, () -> hostIds(Path.of("/etc/passwd"), Path.of("/etc/group"),
                Path.of("/proc")));
    }

    static void refuseBadRange(int base, int count) {
        if (base < 1000 || count < 1 || (long) base + count > 65534L) {
            throw new IllegalArgumentException("the jail id range must lie within 1000-65533 (65534 is nobody) and"
                    + " hold at least one id; base " + base + ", count " + count + " does not");
        }
    }

    public int base() {
        return base;
    }

    public int count() {
        return count;
    }

    /** The zone's id: the one it holds already, else the lowest free one, which it then holds. */
    public synchronized int take(UUID zone) throws DriverException {
        Integer mine = held.get(zone);
        if (mine != null) {
            return mine;
        }
        Set<Integer> taken = new HashSet<>(hostIds.get());
        taken.addAll(held.values());
        OptionalInt id = pick(base, count, taken);
        if (id.isEmpty()) {
            throw new DriverException("no free jail id left in " + base + "-" + (base + count - 1) + " ("
                    + held.size() + " held by this driver's zones, the rest by host accounts or processes); raise"
                    + " jailIdCount or stop a zone");
        }
        held.put(zone, id.getAsInt());
        return id.getAsInt();
    }

    /** Marks {@code id} as the zone's again (a zone adopted after a restart keeps the id it runs with). */
    public synchronized void hold(UUID zone, int id) {
        held.put(zone, id);
    }

    public synchronized void release(UUID zone) {
        held.remove(zone);
    }

    public synchronized OptionalInt heldBy(UUID zone) {
        Integer id = held.get(zone);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The lowest id of the range that {@code taken} does not hold. */
    static OptionalInt pick(int base, int count, Set<Integer> taken) {
        for (int id = base; id < base + count; id++) {
            if (!taken.contains(id)) {
                return OptionalInt.of(id);
            }
        }
        return OptionalInt.empty();
    }

    /**
     * The uids of {@code passwd}, the gids of {@code group} (both the third field of a colon-separated line), and
     * the real, effective, saved and filesystem uids and gids of every process under {@code proc}. Unreadable
     * files count as empty: a process that ends while it is read holds nothing.
     */
    static Set<Integer> hostIds(Path passwd, Path group, Path proc) {
        Set<Integer> ids = new HashSet<>();
        for (Path f : List.of(passwd, group)) {
            for (String line : linesOf(f)) {
                String[] fields = line.split(":", -1);
                if (fields.length > 2) {
                    addNumber(ids, fields[2]);
                }
            }
        }
        try (DirectoryStream<Path> pids = Files.newDirectoryStream(proc)) {
            for (Path p : pids) {
                if (isPid(p.getFileName().toString())) {
                    statusIds(p.resolve("status"), ids);
                }
            }
        } catch (IOException e) {
            // no /proc to read: accounts and this driver's own zones still count
        }
        return ids;
    }

    private static boolean isPid(String name) {
        if (name.isEmpty()) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * The numbers on the {@code Uid:} and {@code Gid:} lines of a /proc status file, read as bytes: this runs for
     * every process at every start, mostly before the JIT compiled it, and splitting each whole file into strings
     * (about 55 lines) made the allocation take 22-84 ms on a 2-core host with about 100 processes.
     */
    static void statusIds(Path status, Set<Integer> ids) {
        byte[] b;
        try {
            b = Files.readAllBytes(status);
        } catch (IOException e) {
            return; // the process ended: it holds nothing
        }
        int line = 0;
        while (line < b.length) {
            int end = line;
            while (end < b.length && b[end] != '\n') {
                end++;
            }
            if (end - line > 4 && (b[line] == 'U' || b[line] == 'G') && b[line + 1] == 'i' && b[line + 2] == 'd'
                    && b[line + 3] == ':') {
                long v = 0;
                boolean digits = false;
                boolean bad = false;
                for (int i = line + 4; i <= end; i++) {
                    byte c = i < end ? b[i] : (byte) ' ';
                    if (c == ' ' || c == '\t') {
                        if (digits && !bad) {
                            ids.add((int) v);
                        }
                        v = 0;
                        digits = false;
                        bad = false;
                    } else if (c >= '0' && c <= '9' && !bad) {
                        v = v * 10 + (c - '0');
                        digits = true;
                        bad = v > Integer.MAX_VALUE; // too long for an id: not one
                    } else {
                        bad = true; // a malformed field names no id
                    }
                }
            }
            line = end + 1;
        }
    }

    private static List<String> linesOf(Path f) {
        try {
            return Files.readAllLines(f, java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static void addNumber(Set<Integer> ids, String s) {
        try {
            ids.add(Integer.parseInt(s.trim()));
        } catch (NumberFormatException e) {
            // a malformed line names no id
        }
    }
}

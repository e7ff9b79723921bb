package io.zonekeeper.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The host processes that belong to a zone, found without asking the driver: the pid it recorded, that process's
 * descendants, and every process whose command line names the zone's id or its folder. Identity is the pid
 * together with the process's start time, so a reused pid is never taken for the guest.
 */
final class HostProcesses {
    private static final Path PROC = Path.of("/proc");

    private HostProcesses() {
    }

    /** Whether this host has a Linux-style /proc to search; without it only recorded pids are checked. */
    static boolean canSearch() {
        return Files.isReadable(PROC.resolve("self/cmdline"));
    }

    /** The process with this pid and its descendants, if it is alive. */
    static List<ProcessHandle> treeOf(long pid) {
        List<ProcessHandle> out = new ArrayList<>();
        ProcessHandle.of(pid).filter(HostProcesses::alive).ifPresent(p -> {
            out.add(p);
            p.descendants().filter(HostProcesses::alive).forEach(out::add);
        });
        return out;
    }

    /** Every live process (and its descendants) whose command line contains one of {@code needles}. */
    static List<ProcessHandle> naming(Collection<String> needles) {
        Map<Long, ProcessHandle> found = new LinkedHashMap<>();
        if (!canSearch() || needles.isEmpty()) {
            return List.of();
        }
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, p -> isNumber(p.getFileName().toString()))) {
            for (Path dir : dirs) {
                long pid = Long.parseLong(dir.getFileName().toString());
                if (pid == self) {
                    continue;
                }
                String cmd = commandLine(pid);
                if (needles.stream().anyMatch(n -> !n.isEmpty() && cmd.contains(n))) {
                    for (ProcessHandle p : treeOf(pid)) {
                        found.putIfAbsent(p.pid(), p);
                    }
                }
            }
        } catch (IOException e) {
            // /proc vanished under us: nothing more to find.
        }
        return new ArrayList<>(found.values());
    }

    /** Alive, the same process as when it was found (same start time), and not a zombie waiting to be reaped. */
    static boolean alive(ProcessHandle p) {
        Optional<ProcessHandle> now = ProcessHandle.of(p.pid());
        if (now.isEmpty() || !now.get().isAlive()) {
            return false;
        }
        var then = p.info().startInstant();
        var later = now.get().info().startInstant();
        if (then.isPresent() && later.isPresent() && !then.get().equals(later.get())) {
            return false;
        }
        return !zombie(p.pid());
    }

    /** {@code 1234 qemu-system-x86_64 -name ...}, shortened. */
    static String describe(ProcessHandle p) {
        String cmd = commandLine(p.pid()).strip();
        if (cmd.length() > 160) {
            cmd = cmd.substring(0, 160) + "...";
        }
        return p.pid() + (cmd.isEmpty() ? "" : " " + cmd);
    }

    static String commandLine(long pid) {
        try {
            byte[] raw = Files.readAllBytes(PROC.resolve(Long.toString(pid)).resolve("cmdline"));
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    raw[i] = ' ';
                }
            }
            return new String(raw, StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            return ProcessHandle.of(pid).flatMap(h -> h.info().commandLine()).orElse("");
        }
    }

    private static boolean zombie(long pid) {
        try {
            String stat = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.UTF_8);
            int close = stat.lastIndexOf(')');
            return close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'Z';
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    private static boolean isNumber(String s) {
        return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
    }
}

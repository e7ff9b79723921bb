package io.zonekeeper.kvm.jail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import io.zonekeeper.spi.DriverException;

/**
 * The cgroup v2 folder under which each zone's QEMU gets a group of its own, {@code <mount>/<parent>/<zone uuid>}.
 * Found once from /proc/self/mountinfo: the cgroup2 mount ({@code /sys/fs/cgroup} on a unified host,
 * {@code /sys/fs/cgroup/unified} on a hybrid one). The memory, pids and cpu controllers are enabled for the parent
 * where the hierarchy offers them; a limit whose controller is missing is not written, and {@link #describe} says
 * which are missing, so an operator sees from {@code driver:info} what is and is not enforced.
 */
public final class CgroupHierarchy {
    static final List<String> CONTROLLERS = List.of("memory", "pids", "cpu");

    private final Path parent;
    private final Set<String> controllers;
    private final String problem;

    private CgroupHierarchy(Path parent, Set<String> controllers, String problem) {
        this.parent = parent;
        this.controllers = controllers;
        this.problem = problem;
    }

    /** A hierarchy with no groups: zones start without one, and {@link #describe} says why. */
    public static CgroupHierarchy none(String why) {
        return new CgroupHierarchy(null, Set.of(), why);
    }

    /** Finds the cgroup2 mount in {@code mountinfo}, makes {@code parentName} under it and enables what it can. */
    public static CgroupHierarchy find(Path mountinfo, String parentName) {
        Optional<Path> mount;
        try {
            mount = cgroup2Mount(Files.readAllLines(mountinfo, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return none("cannot read " + mountinfo + ": " + e.getMessage());
        }
        if (mount.isEmpty()) {
            return none("no cgroup2 file system is mounted (cgroup v1 only)");
        }
        Path root = mount.get();
        Path parent = root.resolve(parentName).normalize();
        if (!parent.startsWith(root) || parent.equals(root)) {
            return none("the cgroup parent '" + parentName + "' is not a folder below " + root);
        }
        try {
            Set<String> offered = words(root.resolve("cgroup.controllers"));
            Set<String> wanted = new LinkedHashSet<>(CONTROLLERS);
            wanted.retainAll(offered);
            enable(root, wanted);
            Files.createDirectories(parent);
            enable(parent, wanted);
            Set<String> enabled = words(parent.resolve("cgroup.subtree_control"));
            enabled.retainAll(CONTROLLERS);
            return new CgroupHierarchy(parent, enabled, null);
        } catch (IOException e) {
            return none("cannot make " + parent + ": " + e.getMessage() + " (read-only or not delegated to us)");
        }
    }

    /** The mount point of the first cgroup2 entry in /proc/self/mountinfo lines. */
    static Optional<Path> cgroup2Mount(List<String> mountinfo) {
        for (String line : mountinfo) {
            int dash = line.indexOf(" - ");
            if (dash < 0) {
                continue;
            }
            String[] before = line.substring(0, dash).split(" ");
            String[] after = line.substring(dash + 3).split(" ");
            if (after.length > 0 && after[0].equals("cgroup2") && before.length > 4) {
                return Optional.of(Path.of(before[4].replace("\\040", " ")));
            }
        }
        return Optional.empty();
    }

    /** Turns on each controller for the children of {@code group}; one that cannot be turned on stays off. */
    private static void enable(Path group, Set<String> wanted) {
        Path control = group.resolve("cgroup.subtree_control");
        for (String c : wanted) {
            try {
                Set<String> on = words(control);
                if (!on.contains(c)) {
                    Files.writeString(control, "+" + c);
                }
            } catch (IOException e) {
                // e.g. EBUSY where the group holds processes itself; describe() names what is missing
            }
        }
    }

    private static Set<String> words(Path f) throws IOException {
        return new LinkedHashSet<>(Arrays.asList(Files.readString(f).trim().split("\\s+")));
    }

    public boolean available() {
        return parent != null;
    }

    /**
     * One line for people on whether a zone's limits hold: {@code enforced (memory, pids, cpu)}, or
     * {@code not enforced (...)} with the reason, or which part is. A hybrid host (cgroup v1 hierarchies own the
     * memory, pids and cpu controllers, so its cgroup2 mount offers none of them) gives
     * {@code not enforced (cgroup v2 memory/pids/cpu controllers not available)}.
     */
    public String limits() {
        if (parent == null) {
            return "not enforced (" + problem + ")";
        }
        List<String> missing = new ArrayList<>(CONTROLLERS);
        missing.removeAll(controllers);
        if (missing.isEmpty()) {
            return "enforced (" + String.join(", ", CONTROLLERS) + ")";
        }
        String why = "cgroup v2 " + String.join("/", missing) + " controller" + (missing.size() == 1 ? "" : "s")
                + " not available";
        if (missing.size() == CONTROLLERS.size()) {
            return "not enforced (" + why + ")";
        }
        List<String> held = new ArrayList<>(CONTROLLERS);
        held.retainAll(controllers);
        return "partly enforced: " + String.join(", ", held) + " (" + why + ")";
    }

    /** The group a zone gets (whether or not it exists yet); empty when there is no hierarchy. */
    public Optional<Path> groupOf(UUID zone) {
        return parent == null ? Optional.empty() : Optional.of(parent.resolve(zone.toString()));
    }

    /** For {@code driver:info}: where groups go and which limits are enforced, or why there are none. */
    public String describe() {
        if (parent == null) {
            return "none: " + problem + "; zones start without cgroup limits";
        }
        List<String> missing = new ArrayList<>(CONTROLLERS);
        missing.removeAll(controllers);
        return parent + "/<zone uuid>" + (missing.isEmpty() ? ", memory, pids and cpu limits enforced"
                : ", limits not enforced for " + String.join(", ", missing) + " (this cgroup2 hierarchy does not"
                        + " offer " + (missing.size() == 1 ? "that controller" : "those controllers") + "; on a"
                        + " hybrid host the cgroup v1 hierarchies own them)");
    }

    /**
     * Makes the zone's group and writes each limit whose controller is enabled. A group left by a QEMU that is gone
     * is made afresh. Returns the group; throws, having removed what it made, if the group cannot be made or a
     * limit that the controller offers cannot be written.
     */
    public Path create(UUID zone, CgroupLimits limits) throws DriverException {
        Path group = groupOf(zone).orElseThrow(() -> new IllegalStateException("no cgroup hierarchy"));
        try {
            remove(group);
            Files.createDirectory(group);
            for (Map.Entry<String, String> f : limits.files().entrySet()) {
                Path file = group.resolve(f.getKey());
                if (controllers.contains(CgroupLimits.controllerOf(f.getKey())) && Files.exists(file)) {
                    Files.writeString(file, f.getValue());
                }
            }
            return group;
        } catch (IOException e) {
            remove(group);
            throw new DriverException("cannot make the zone's cgroup " + group + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes a zone's group. Only an empty group can go, and a QEMU that has exited leaves it only once it is reaped,
     * so this waits up to about 2 s; a group that still holds a process stays (and says nothing: the zone's end is
     * what counts, and the zone's next start makes its group afresh).
     */
    public static void remove(Path group) {
        if (!Files.isDirectory(group)) {
            return;
        }
        for (int i = 0; i < 200; i++) {
            try {
                Files.delete(group);
                return;
            } catch (NoSuchFileException e) {
                return;
            } catch (IOException e) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** The group {@code pid} is in, read from /proc/PID/cgroup (its cgroup2 line, {@code 0::/path}). */
    public static Optional<String> groupOfProcess(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "cgroup"))) {
                if (line.startsWith("0::")) {
                    return Optional.of(line.substring(3));
                }
            }
        } catch (IOException e) {
            // gone
        }
        return Optional.empty();
    }
}

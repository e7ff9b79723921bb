package io.zonekeeper.xen.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The modules {@code modprobe} would insert for a few names, worked out from the index files of a
 * {@code /lib/modules/RELEASE} folder without running anything: hard dependencies from {@code modules.dep}, soft
 * ones from {@code modules.softdep} (ext4 and jbd2 want {@code crypto-crc32c} first), alias names through
 * {@code modules.alias} (every module of an alias, as modprobe tries each: crc32c_intel, which a CPU without
 * SSE4.2 refuses, and crc32c_generic, which always loads), and {@code modules.builtin}, which need nothing.
 */
public final class KernelModules {

    /** A module to insert: its name as /proc/modules shows it (underscores), and its file. */
    public record Module(String name, Path file) {
    }

    private final Path dir;
    private final Map<String, String> files = new HashMap<>();
    private final Map<String, List<String>> hard = new HashMap<>();
    private final Map<String, List<String>> before = new HashMap<>();
    private final Map<String, List<String>> after = new HashMap<>();
    private final Map<String, List<String>> aliases = new HashMap<>();
    private final Set<String> builtin = new HashSet<>();

    private KernelModules(Path dir) {
        this.dir = dir;
    }

    /** Reads the index of {@code dir}; {@code modules.dep} must be there, the other files may be missing. */
    public static KernelModules load(Path dir) throws IOException {
        Path dep = dir.resolve("modules.dep");
        if (!Files.isRegularFile(dep)) {
            throw new IOException("no modules.dep in " + dir + " (is the kernel's package installed?)");
        }
        KernelModules m = new KernelModules(dir);
        for (String line : Files.readAllLines(dep)) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String file = line.substring(0, colon).trim();
            String name = nameOf(file);
            m.files.put(name, file);
            List<String> deps = new ArrayList<>();
            for (String d : line.substring(colon + 1).trim().split("\\s+")) {
                if (!d.isEmpty()) {
                    deps.add(nameOf(d));
                }
            }
            m.hard.put(name, deps);
        }
        for (String line : lines(dir.resolve("modules.softdep"))) {
            String[] t = line.trim().split("\\s+");
            if (t.length < 3 || !t[0].equals("softdep")) {
                continue;
            }
            Map<String, List<String>> into = null;
            for (int i = 2; i < t.length; i++) {
                if (t[i].equals("pre:")) {
                    into = m.before;
                } else if (t[i].equals("post:")) {
                    into = m.after;
                } else if (into != null) {
                    into.computeIfAbsent(normal(t[1]), k -> new ArrayList<>()).add(normal(t[i]));
                }
            }
        }
        for (String line : lines(dir.resolve("modules.alias"))) {
            String[] t = line.trim().split("\\s+");
            // Wildcard aliases match hardware ids, never the plain names softdeps use.
            if (t.length == 3 && t[0].equals("alias") && t[1].indexOf('*') < 0 && t[1].indexOf('?') < 0) {
                m.aliases.computeIfAbsent(normal(t[1]), k -> new ArrayList<>()).add(normal(t[2]));
            }
        }
        for (String line : lines(dir.resolve("modules.builtin"))) {
            if (!line.isBlank()) {
                m.builtin.add(nameOf(line.trim()));
            }
        }
        return m;
    }

    private static List<String> lines(Path p) throws IOException {
        return Files.isRegularFile(p) ? Files.readAllLines(p) : List.of();
    }

    public Path directory() {
        return dir;
    }

    /**
     * The modules to insert for {@code names}, each after everything it needs. Built-in ones are left out. A name
     * the kernel has neither as a module nor built in is an error; a soft dependency it lacks is skipped.
     */
    public List<Module> resolve(Collection<String> names) throws IOException {
        LinkedHashMap<String, Module> order = new LinkedHashMap<>();
        for (String n : names) {
            add(normal(n), true, order, new LinkedHashSet<>());
        }
        return List.copyOf(order.values());
    }

    private void add(String name, boolean required, LinkedHashMap<String, Module> order, Set<String> visiting)
            throws IOException {
        if (order.containsKey(name) || builtin.contains(name)) {
            return;
        }
        if (!files.containsKey(name)) {
            List<String> real = aliases.getOrDefault(name, List.of()).stream()
                    .filter(a -> files.containsKey(a) || builtin.contains(a)).toList();
            if (real.isEmpty()) {
                if (required) {
                    throw new IOException("kernel module " + name + " is not in " + dir.resolve("modules.dep"));
                }
                return;
            }
            if (real.stream().anyMatch(builtin::contains)) {
                return;
            }
            for (String r : real) {
                add(r, required, order, visiting);
            }
            return;
        }
        if (!visiting.add(name)) {
            throw new IOException("kernel modules depend on each other in a cycle: " + visiting);
        }
        for (String pre : before.getOrDefault(name, List.of())) {
            add(pre, false, order, visiting);
        }
        for (String d : hard.getOrDefault(name, List.of())) {
            add(d, true, order, visiting);
        }
        order.put(name, new Module(name, dir.resolve(files.get(name))));
        visiting.remove(name);
        for (String post : after.getOrDefault(name, List.of())) {
            add(post, false, order, visiting);
        }
    }

    /** {@code kernel/drivers/net/xen-netfront.ko[.xz]} to {@code xen_netfront}. */
    static String nameOf(String path) {
        String f = path.substring(path.lastIndexOf('/') + 1);
        int ko = f.indexOf(".ko");
        return normal(ko >= 0 ? f.substring(0, ko) : f);
    }

    static String normal(String name) {
        return name.replace('-', '_');
    }
}

package io.zonekeeper.image;

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
 * What {@code modprobe} would load, worked out from a kernel's {@code /lib/modules/RELEASE} without running it:
 * hard dependencies from {@code modules.dep}, soft ones from {@code modules.softdep} (ext4 and jbd2 want
 * {@code crypto-crc32c} first), alias names through {@code modules.alias}, and {@code modules.builtin}, which need
 * nothing.
 */
public final class KernelModules {

    /** A module to insert: its name with underscores, as /proc/modules shows it, and its .ko file. */
    public record Module(String name, Path file) {
    }

    private final Path dir;
    private final Map<String, String> relPath = new HashMap<>();
    private final Map<String, List<String>> deps = new HashMap<>();
    private final Map<String, List<String>> softPre = new HashMap<>();
    private final Map<String, List<String>> softPost = new HashMap<>();
    private final Map<String, List<String>> aliases = new HashMap<>();
    private final Set<String> builtin = new HashSet<>();

    private KernelModules(Path dir) {
        this.dir = dir;
    }

    /** Reads the index files of {@code dir}; {@code modules.dep} must be there, the other files may be missing. */
    public static KernelModules load(Path dir) throws IOException {
        Path dep = dir.resolve("modules.dep");
        if (!Files.isRegularFile(dep)) {
            throw new IOException("no modules.dep in " + dir + ": is the kernel's module package installed?");
        }
        KernelModules m = new KernelModules(dir);
        for (String line : Files.readAllLines(dep)) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String path = line.substring(0, colon).trim();
            String name = nameOf(path);
            m.relPath.put(name, path);
            List<String> list = new ArrayList<>();
            for (String d : line.substring(colon + 1).trim().split("\\s+")) {
                if (!d.isEmpty()) {
                    list.add(nameOf(d));
                }
            }
            m.deps.put(name, list);
        }
        for (String line : lines(dir.resolve("modules.softdep"))) {
            String[] t = line.trim().split("\\s+");
            if (t.length < 3 || !t[0].equals("softdep")) {
                continue;
            }
            Map<String, List<String>> into = null;
            for (int i = 2; i < t.length; i++) {
                if (t[i].equals("pre:")) {
                    into = m.softPre;
                } else if (t[i].equals("post:")) {
                    into = m.softPost;
                } else if (into != null) {
                    into.computeIfAbsent(normalize(t[1]), k -> new ArrayList<>()).add(normalize(t[i]));
                }
            }
        }
        for (String line : lines(dir.resolve("modules.alias"))) {
            String[] t = line.trim().split("\\s+");
            // Wildcard aliases match hardware ids, never the plain names softdeps use.
            if (t.length == 3 && t[0].equals("alias") && t[1].indexOf('*') < 0 && t[1].indexOf('?') < 0) {
                m.aliases.computeIfAbsent(normalize(t[1]), k -> new ArrayList<>()).add(normalize(t[2]));
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

    public boolean isBuiltin(String name) {
        return builtin.contains(normalize(name));
    }

    /**
     * The modules to insert, in load order (every module after all it depends on), for the given names.
     * Built-in modules are left out. A named module the kernel has neither as a module nor built in is an error; a
     * soft dependency it does not have is skipped, as modprobe does.
     */
    public List<Module> resolve(Collection<String> names) throws IOException {
        LinkedHashMap<String, Module> order = new LinkedHashMap<>();
        for (String n : names) {
            visit(normalize(n), true, order, new LinkedHashSet<>());
        }
        return List.copyOf(order.values());
    }

    private void visit(String name, boolean required, LinkedHashMap<String, Module> order, Set<String> path)
            throws IOException {
        if (order.containsKey(name) || builtin.contains(name)) {
            return;
        }
        if (!relPath.containsKey(name)) {
            List<String> candidates = aliases.getOrDefault(name, List.of()).stream()
                    .filter(a -> relPath.containsKey(a) || builtin.contains(a)).toList();
            if (candidates.isEmpty()) {
                if (required) {
                    throw new IOException("kernel module " + name + " is not in " + dir.resolve("modules.dep"));
                }
                return;
            }
            if (candidates.stream().anyMatch(c -> order.containsKey(c) || builtin.contains(c))) {
                return;
            }
            // Like modprobe, which tries every module of an alias: crypto-crc32c is crc32c_intel, which a guest CPU
            // without SSE4.2 refuses, and crc32c_generic, which always loads. The image carries all of them and
            // the zone init inserts each; the ones the guest cannot use fail harmlessly.
            for (String c : candidates) {
                visit(c, required, order, path);
            }
            return;
        }
        if (!path.add(name)) {
            throw new IOException("kernel modules depend on each other in a cycle: " + path);
        }
        for (String pre : softPre.getOrDefault(name, List.of())) {
            visit(pre, false, order, path);
        }
        for (String d : deps.getOrDefault(name, List.of())) {
            visit(d, true, order, path);
        }
        order.put(name, new Module(name, dir.resolve(relPath.get(name))));
        path.remove(name);
        for (String post : softPost.getOrDefault(name, List.of())) {
            visit(post, false, order, path);
        }
    }

    /** {@code kernel/drivers/net/xen-netfront.ko[.xz]} to {@code xen_netfront}. */
    static String nameOf(String path) {
        String f = path.substring(path.lastIndexOf('/') + 1);
        int ko = f.indexOf(".ko");
        return normalize(ko >= 0 ? f.substring(0, ko) : f);
    }

    static String normalize(String name) {
        return name.replace('-', '_');
    }
}

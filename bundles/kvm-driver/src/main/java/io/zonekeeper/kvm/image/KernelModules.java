package io.zonekeeper.kvm.image;

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
 * What {@code modprobe} would load, worked out from a kernel's {@code /lib/modules/VERSION} without running it:
 * hard dependencies from {@code modules.dep}, soft ones from {@code modules.softdep} (whose names may be aliases,
 * such as {@code crypto-crc32c}, resolved through {@code modules.alias}), and built-in modules, which need nothing.
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

    /** Reads the index files of {@code dir} (a {@code /lib/modules/VERSION} folder); modules.dep is required. */
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
        Path soft = dir.resolve("modules.softdep");
        if (Files.isRegularFile(soft)) {
            for (String line : Files.readAllLines(soft)) {
                String[] t = line.trim().split("\\s+");
                if (t.length < 3 || !t[0].equals("softdep")) {
                    continue;
                }
                String name = normalize(t[1]);
                Map<String, List<String>> target = null;
                for (int i = 2; i < t.length; i++) {
                    if (t[i].equals("pre:")) {
                        target = m.softPre;
                    } else if (t[i].equals("post:")) {
                        target = m.softPost;
                    } else if (target != null) {
                        target.computeIfAbsent(name, k -> new ArrayList<>()).add(normalize(t[i]));
                    }
                }
            }
        }
        Path alias = dir.resolve("modules.alias");
        if (Files.isRegularFile(alias)) {
            for (String line : Files.readAllLines(alias)) {
                String[] t = line.trim().split("\\s+");
                if (t.length == 3 && t[0].equals("alias") && t[1].indexOf('*') < 0) {
                    m.aliases.computeIfAbsent(normalize(t[1]), k -> new ArrayList<>()).add(normalize(t[2]));
                }
            }
        }
        Path bi = dir.resolve("modules.builtin");
        if (Files.isRegularFile(bi)) {
            for (String line : Files.readAllLines(bi)) {
                if (!line.isBlank()) {
                    m.builtin.add(nameOf(line.trim()));
                }
            }
        }
        return m;
    }

    public Path directory() {
        return dir;
    }

    public boolean isBuiltin(String name) {
        return builtin.contains(normalize(name));
    }

    /**
     * The modules to insert, in load order (every module after all it depends on), for the given names.
     * Built-in modules are left out. A named module the kernel does not have is an error; a soft dependency it
     * does not have is skipped, as modprobe does.
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
        String real = name;
        if (!relPath.containsKey(real)) {
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
        if (!path.add(real)) {
            throw new IOException("kernel modules depend on each other in a cycle: " + path);
        }
        for (String pre : softPre.getOrDefault(real, List.of())) {
            visit(pre, false, order, path);
        }
        for (String d : deps.getOrDefault(real, List.of())) {
            visit(d, true, order, path);
        }
        order.put(real, new Module(real, dir.resolve(relPath.get(real))));
        path.remove(real);
        for (String post : softPost.getOrDefault(real, List.of())) {
            visit(post, false, order, path);
        }
    }

    /** {@code kernel/drivers/virtio/virtio_ring.ko[.xz]} to {@code virtio_ring}. */
    static String nameOf(String path) {
        String f = path.substring(path.lastIndexOf('/') + 1);
        int ko = f.indexOf(".ko");
        return normalize(ko >= 0 ? f.substring(0, ko) : f);
    }

    static String normalize(String name) {
        return name.replace('-', '_');
    }
}

package io.zonekeeper.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The modules of a kernel's features (groups), in load order, as a zone image carries them: a zone loads only the
 * groups its spec needs ({@code zk.features=}), so that one image serves every zone of a kernel.
 *
 * @param release the kernel release, or "" when neither the kernel's header nor its file name says
 * @param groups  feature to its modules in load order, in the order the features were asked for
 * @param missing each feature the kernel cannot give, with the reason, so a driver can refuse a spec needing it
 */
public record ModuleGroups(String release, Map<String, List<KernelModules.Module>> groups,
        Map<String, String> missing) {

    public ModuleGroups {
        groups = Collections.unmodifiableMap(new LinkedHashMap<>(groups));
        missing = Collections.unmodifiableMap(new LinkedHashMap<>(missing));
    }

    /**
     * The groups of {@code features} (feature name to the module names it needs) for {@code kernel}, whose modules
     * are under {@code modulesRoot/RELEASE}.
     */
    public static ModuleGroups of(Path kernel, Path modulesRoot, Map<String, List<String>> features) {
        String release = KernelFiles.release(kernel).orElse("");
        Map<String, List<KernelModules.Module>> groups = new LinkedHashMap<>();
        Map<String, String> missing = new LinkedHashMap<>();
        if (release.isEmpty()) {
            features.keySet().forEach(f -> missing.put(f, "the release of kernel " + kernel + " is unknown"));
            return new ModuleGroups(release, groups, missing);
        }
        KernelModules modules;
        try {
            modules = KernelModules.load(modulesRoot.resolve(release));
        } catch (IOException e) {
            features.keySet().forEach(f -> missing.put(f, e.getMessage()));
            return new ModuleGroups(release, groups, missing);
        }
        for (Map.Entry<String, List<String>> f : features.entrySet()) {
            try {
                groups.put(f.getKey(), modules.resolve(f.getValue()));
            } catch (IOException e) {
                missing.put(f.getKey(), e.getMessage());
            }
        }
        return new ModuleGroups(release, groups, missing);
    }

    /** The same groups less {@code feature}, which is missing for {@code reason}. */
    public ModuleGroups without(String feature, String reason) {
        Map<String, List<KernelModules.Module>> g = new LinkedHashMap<>(groups);
        g.remove(feature);
        Map<String, String> m = new LinkedHashMap<>(missing);
        m.put(feature, reason);
        return new ModuleGroups(release, g, m);
    }
}

package io.zonekeeper.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bundles that a set of features asks for, each mapped to its jar in bundles/, in the order to start them:
 * by start-order, then in the order the features list them. A bundle listed by two features is installed once,
 * at the lower start-order.
 */
final class BundlePlan {

    record Entry(ArtifactId id, int startOrder, Path jar, Path feature) {
    }

    private final List<Entry> entries;

    private BundlePlan(List<Entry> entries) {
        this.entries = entries;
    }

    static BundlePlan of(List<Feature> features, Path bundlesDir) throws LaunchException {
        Map<String, Entry> byId = new LinkedHashMap<>();
        for (Feature feature : features) {
            for (Feature.Bundle bundle : feature.bundles()) {
                Path jar = bundlesDir.resolve(bundle.id().fileName());
                if (!Files.isRegularFile(jar)) {
                    throw new LaunchException("feature file " + feature.file() + " lists " + bundle.id()
                            + ", but the distribution has no " + jar);
                }
                String key = bundle.id().toString();
                Entry known = byId.get(key);
                if (known == null || bundle.startOrder() < known.startOrder()) {
                    byId.put(key, new Entry(bundle.id(), bundle.startOrder(), jar, feature.file()));
                }
            }
        }
        List<Entry> ordered = new ArrayList<>(byId.values());
        ordered.sort(Comparator.comparingInt(Entry::startOrder)); // stable: keeps the listed order within one level
        return new BundlePlan(List.copyOf(ordered));
    }

    List<Entry> entries() {
        return entries;
    }
}

package io.zonekeeper.spi;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * What a driver can do, so that the shell can say "xen-driver does not support channels" before it tries.
 *
 * @param features     what it supports
 * @param maxVcpus     the most vCPUs one zone may have
 * @param maxMemoryMiB the most memory one zone may have (what the host can give it)
 * @param details      facts for people, shown by {@code driver:info} (accelerator, self-test verdict, versions)
 */
public record Capabilities(Set<Feature> features, int maxVcpus, long maxMemoryMiB, Map<String, String> details) {

    public Capabilities {
        features = features.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(features));
        details = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }

    public boolean supports(Feature feature) {
        return features.contains(feature);
    }
}

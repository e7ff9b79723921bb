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
 * @param deviceTypes  the {@link PreparedDevice} types it renders ({@code pci}, {@code tpm}); a driver that has
 *                     {@link Feature#PCI_PASSTHROUGH} renders {@code pci} whether it lists it or not
 */
public record Capabilities(Set<Feature> features, int maxVcpus, long maxMemoryMiB, Map<String, String> details,
        Set<String> deviceTypes) {

    public Capabilities {
        features = features.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(features));
        details = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(details));
        java.util.Set<String> types = new java.util.TreeSet<>(deviceTypes);
        if (features.contains(Feature.PCI_PASSTHROUGH)) {
            types.add("pci");
        }
        deviceTypes = java.util.Collections.unmodifiableSet(types);
    }

    /** A driver that renders no devices but {@code pci} when it has {@link Feature#PCI_PASSTHROUGH}. */
    public Capabilities(Set<Feature> features, int maxVcpus, long maxMemoryMiB, Map<String, String> details) {
        this(features, maxVcpus, maxMemoryMiB, details, Set.of());
    }

    /** Whether it renders devices of this type. */
    public boolean renders(String deviceType) {
        return deviceTypes.contains(deviceType);
    }

    public boolean supports(Feature feature) {
        return features.contains(feature);
    }
}

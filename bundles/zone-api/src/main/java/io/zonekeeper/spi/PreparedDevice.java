package io.zonekeeper.spi;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A device that a {@link DeviceBackend} made ready for a zone, for a driver to render. The {@link #type()} says how
 * to read the attributes. A driver lists the types it can render in {@link Capabilities#deviceTypes()}, and zone-core
 * refuses a zone whose devices its driver cannot render, before anything is prepared.
 *
 * <p>Well-known types and their attributes:
 * <ul>
 * <li>{@code pci}: {@code host} the PCI address of one host function, bound to the hypervisor's passthrough driver
 * already (vfio-pci on KVM, pciback on Xen); {@code slot} the host device it belongs to ({@code 0000:01:00}), so that
 * functions of one slot stay together and keep their function numbers; {@code multifunction} {@code true} when
 * that slot has more than one function in the zone; {@code group} its IOMMU group.</li>
 * <li>{@code tpm}: {@code socket} the control socket of a running TPM emulator (swtpm) that the hypervisor
 * connects to; {@code model} {@code tpm-tis} or {@code tpm-crb}; {@code version} {@code 2.0}.</li>
 * </ul>
 *
 * @param type       the device type, as in the spec
 * @param id         a short identifier, unique within the zone (for the hypervisor's device ids)
 * @param attributes what the driver needs to render it, by the rules of its type
 * @param needs      what the guest's machine must have for the device to work there
 */
public record PreparedDevice(String type, String id, Map<String, String> attributes, Set<PlatformNeed> needs) {
    public PreparedDevice {
        attributes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(attributes));
        needs = needs.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(needs));
    }

    /** The attribute, or a clear error naming the device when the backend did not give it. */
    public String attribute(String key) {
        String v = attributes.get(key);
        if (v == null) {
            throw new IllegalArgumentException("device " + id + " (" + type + ") has no attribute " + key);
        }
        return v;
    }
}

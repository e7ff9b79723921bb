package io.zonekeeper.api;

import java.util.Objects;

/**
 * A host device that a zone takes for itself. Today the only type is {@code pci}, addressed by its PCI address
 * ({@code 0000:01:00.0}); the whole IOMMU group goes with it.
 */
public final class DeviceSpec {
    public static final String TYPE_PCI = "pci";
    private final String type;
    private final String address;

    public DeviceSpec(String type, String address) {
        this.type = type;
        this.address = address;
    }

    public static DeviceSpec pci(String address) {
        return new DeviceSpec(TYPE_PCI, address);
    }

    public String type() {
        return type;
    }

    public String address() {
        return address;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeviceSpec d && Objects.equals(type, d.type) && Objects.equals(address, d.address);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, address);
    }

    @Override
    public String toString() {
        return type + ":" + address;
    }
}

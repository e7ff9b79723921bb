package io.zonekeeper.api;

import java.util.Objects;

/**
 * A device a zone gets. Type {@code pci} is a host PCI function addressed by its PCI address
 * ({@code 0000:01:00.0}); the whole IOMMU group goes with it. Other types (a virtual TPM: {@code tpm}) are served by
 * a device backend bundle ({@link io.zonekeeper.spi.DeviceBackend}); their address is optional and means what that
 * backend says (a TPM version, say).
 */
public final class DeviceSpec {
    public static final String TYPE_PCI = "pci";
    private final String type;
    private final String address;

    public DeviceSpec(String type, String address) {
        this.type = type;
        this.address = address;
    }

    public static DeviceSpec of(String type) {
        return new DeviceSpec(type, null);
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
        return address == null ? type : type + ":" + address;
    }
}

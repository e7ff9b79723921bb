package io.zonekeeper.core;

import io.zonekeeper.spi.Capabilities;

/**
 * What the shell shows about a driver: a bound one, or one refused because its type belongs to another bundle
 * ({@code refusal} says why; null for a bound driver).
 */
public record DriverView(String type, String bundle, String version, boolean active, Capabilities capabilities,
        String refusal) {
    public DriverView(String type, String bundle, String version, boolean active, Capabilities capabilities) {
        this(type, bundle, version, active, capabilities, null);
    }

    public boolean refused() {
        return refusal != null;
    }
}

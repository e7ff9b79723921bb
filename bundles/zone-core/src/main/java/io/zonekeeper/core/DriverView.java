package io.zonekeeper.core;

import io.zonekeeper.spi.Capabilities;

/** What the shell shows about a bound driver. */
public record DriverView(String type, String bundle, String version, boolean active, Capabilities capabilities) {
}

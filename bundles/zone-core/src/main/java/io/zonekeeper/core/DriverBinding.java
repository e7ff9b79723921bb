package io.zonekeeper.core;

import io.zonekeeper.spi.HypervisorDriver;

/**
 * One bound driver service, with what the shell shows about where it came from. Plain Java: the framework side
 * ({@link ZoneManagerComponent}) reads the service properties, and {@link DriverUpgrader} finds the bundle by id.
 */
final class DriverBinding {
    /** The bundle id of a driver bound without a framework. */
    static final long NO_BUNDLE = -1;
    final HypervisorDriver driver;
    final String type;
    final long serviceId;
    final int ranking;
    final String bundle;
    final String version;
    /** The id of the bundle that registered the driver, or {@link #NO_BUNDLE} outside a framework. */
    final long bundleId;

    DriverBinding(HypervisorDriver driver, long serviceId, int ranking, String bundle, String version,
            long bundleId) {
        this.driver = driver;
        this.type = driver.type();
        this.serviceId = serviceId;
        this.ranking = ranking;
        this.bundle = bundle;
        this.version = version;
        this.bundleId = bundleId;
    }

    /** For tests and embedders that bind drivers without a framework. */
    DriverBinding(HypervisorDriver driver, String bundle, String version, long serviceId) {
        this(driver, serviceId, 0, bundle, version, NO_BUNDLE);
    }

    String describe() {
        return bundle + " " + version;
    }
}

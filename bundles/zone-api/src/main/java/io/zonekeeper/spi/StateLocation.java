package io.zonekeeper.spi;

import java.nio.file.Path;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Where the appliance keeps what must survive a restart: zones, networks, disks, driver caches, device records.
 * zone-core registers one as an OSGi service, so that a driver, a resource provider or a vendor's device backend
 * references it instead of reading the framework property itself; the property and its default are then read in
 * one place only.
 *
 * @since spi 1.3
 */
@ProviderType
public interface StateLocation {
    /** The framework property that names the state directory (absolute); the launcher sets it. */
    String FRAMEWORK_PROPERTY = "zonekeeper.state";

    /** The state directory when neither zone-core's configuration nor {@link #FRAMEWORK_PROPERTY} names one. */
    Path DEFAULT_DIRECTORY = Path.of("/var/lib/zonekeeper");

    /** The state directory, absolute; it may not exist yet. */
    Path directory();

    /**
     * A folder of the state directory that one bundle owns, such as {@code networks} or {@code cache/kvm}; it may
     * not exist yet.
     */
    default Path folder(String relative) {
        Path p = Path.of(relative);
        if (p.isAbsolute() || p.normalize().startsWith("..") || relative.isBlank()) {
            throw new IllegalArgumentException("'" + relative + "' is not a folder inside the state directory");
        }
        return directory().resolve(p.normalize());
    }
}

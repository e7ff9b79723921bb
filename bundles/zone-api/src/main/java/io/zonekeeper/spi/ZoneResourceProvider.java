package io.zonekeeper.spi;

import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.osgi.annotation.versioning.ConsumerType;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;

/**
 * Prepares host resources that outlive a driver (tap devices, address leases, disk locks) before zone-core asks
 * a driver to start a zone, and releases them once the zone no longer runs. Registered as an OSGi service; at most
 * one provider of each {@link #kind()} is used. Host resources belong to the appliance, not to a driver, so a
 * driver upgrade never touches them.
 */
@ConsumerType
public interface ZoneResourceProvider {
    ResourceKind kind();

    /**
     * Prepares what {@code spec} asks for, of this provider's kind, for zone {@code id}. All or nothing: on failure
     * it throws with a message that names the broken field and leaves the host as it was. Preparing again for a
     * zone that holds resources already first releases those.
     */
    PreparedResources prepare(UUID id, ZoneSpec spec) throws ZoneException;

    /**
     * Prepares as {@link #prepare(UUID, ZoneSpec)} does, for a start on {@code driver}: a provider whose work
     * depends on what the driver does itself (a hypervisor that makes its own host interface) decides by the
     * driver's capabilities here. zone-core calls this one; the default, for providers written against spi 1.2,
     * ignores the driver.
     *
     * @since spi 1.3
     */
    default PreparedResources prepare(UUID id, ZoneSpec spec, ChosenDriver driver) throws ZoneException {
        return prepare(id, spec);
    }

    /** Releases whatever this provider holds for zone {@code id}; does nothing when it holds nothing. */
    void release(UUID id, String zoneName);

    /**
     * Resources held for zones that are not in {@code activeZones} (after a crash of the appliance, say), one line
     * each for the operator. Reports only: nothing is released here.
     */
    List<String> orphans(Set<UUID> activeZones);
}

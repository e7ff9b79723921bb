package io.zonekeeper.spi;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.osgi.annotation.versioning.ConsumerType;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneException;

/**
 * Gives zones the devices of one type: host PCI functions ({@code pci}, the device-passthrough bundle), a virtual
 * TPM ({@code tpm}, a vendor bundle), and so on. Registered as an OSGi service with the property
 * {@link #TYPE_PROPERTY} set to {@link #type()}; zone-core uses the first backend bound for a type.
 *
 * <p>zone-core calls {@link #prepare} before it asks the driver to start a zone, and {@link #release} once the
 * guest no longer runs (stopped, crashed, start undone, destroyed). What a backend prepares belongs to the
 * appliance, not to a driver: a driver upgrade never releases it, and a backend must find its own state again after
 * an appliance restart (a durable record in {@link #stateDirectory}).
 *
 * <p>Calls for one zone never overlap; calls for different zones may.
 */
@ConsumerType
public interface DeviceBackend {
    /** The service property that names the device type a backend serves. */
    String TYPE_PROPERTY = "zonekeeper.device.type";

    /** The {@link DeviceSpec#type()} this backend serves, such as {@code pci} or {@code tpm}. */
    String type();

    /**
     * Checks devices of this backend's type before anything is created or changed. Each problem names its field
     * ({@code devices[2].address}); an empty list means the devices look usable. Must not change the host.
     *
     * @param devices the spec's devices of this type, each with the field name it has in the spec
     */
    List<FieldError> validate(List<IndexedDevice> devices);

    /**
     * Makes the devices ready for one start of zone {@code zoneId}: all or nothing. On failure it throws with a
     * message that names the device and why, and leaves the host exactly as it was. Preparing again for a zone
     * that holds devices already first releases those.
     *
     * @param zoneDirectory the zone's folder, for sockets and state the zone's devices need
     * @return one entry per device the driver must render, in the order of {@code devices}
     */
    List<PreparedDevice> prepare(UUID zoneId, String zoneName, Path zoneDirectory, List<IndexedDevice> devices)
            throws ZoneException;

    /** Gives back whatever this backend holds for zone {@code zoneId}; does nothing when it holds nothing. */
    void release(UUID zoneId, String zoneName);

    /**
     * What this backend holds for zones that are not in {@code activeZones} (after a crash, say), one line each for
     * the operator. Only reports; nothing is released here.
     */
    List<String> orphans(Set<UUID> activeZones);

    /**
     * A device of a spec with its place in the spec's {@code devices} list, for messages.
     *
     * @param index  its index in {@code devices}
     * @param device the device
     */
    record IndexedDevice(int index, DeviceSpec device) {
        /** The field name of this device in a spec, {@code devices[INDEX]}. */
        public String field() {
            return "devices[" + index + "]";
        }
    }

    /** A folder that survives restarts where a backend keeps its records: {@code <state>/devices/<type>}. */
    static Path stateDirectory(Path stateDir, String type) {
        return stateDir.resolve("devices").resolve(type);
    }
}

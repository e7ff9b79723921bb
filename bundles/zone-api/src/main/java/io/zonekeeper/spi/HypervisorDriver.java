package io.zonekeeper.spi;

import java.time.Duration;

import org.osgi.annotation.versioning.ConsumerType;

import io.zonekeeper.api.ZoneState;

/**
 * A hypervisor driver, registered as an OSGi service. zone-core binds drivers dynamically: a driver may go away
 * (upgrade, uninstall) while its zones keep running, and a new instance adopts them.
 *
 * <p>Threading: zone-core never calls two methods for the same zone at once; calls for different zones may come
 * concurrently. A driver must not stop guests when it is deactivated: it only stops watching them.
 */
@ConsumerType
public interface HypervisorDriver {
    /** The service property that carries {@link #type()}, so consumers can filter without calling. */
    String TYPE_PROPERTY = "zonekeeper.driver.type";

    /** The driver type a spec names in {@code hypervisor}: {@code kvm}, {@code xen}, or a vendor's. */
    String type();

    Capabilities capabilities();

    /**
     * Starts the guest and returns once it runs. Saves its runtime record through the context before it returns.
     * On failure it throws and leaves no process, socket or file of the attempt behind.
     */
    RuntimeRecord start(ZoneContext zone) throws DriverException;

    /**
     * Takes over a guest that was started earlier, possibly by another instance of this driver, using
     * {@link ZoneContext#runtime()}. Adopts only on proof (the process or domain is alive and provably this zone's)
     * and never kills anything it could not prove.
     */
    Adoption adopt(ZoneContext zone);

    /** Asks the guest to power off, waits up to {@code grace}, then ends it by force. */
    void stop(ZoneContext zone, Duration grace) throws DriverException;

    /** Ends the guest at once and removes what the driver made for it, except the zone's console log. */
    void kill(ZoneContext zone) throws DriverException;

    /** What really runs for this zone right now, as far as the driver can see. */
    ZoneState observe(ZoneContext zone);

    /** Stops watching the zone without touching its guest, e.g. before the zone record is handed elsewhere. */
    default void release(ZoneContext zone) {
    }
}

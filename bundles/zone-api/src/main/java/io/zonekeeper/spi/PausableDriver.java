package io.zonekeeper.spi;

import org.osgi.annotation.versioning.ConsumerType;

/** Optional ability: pause and resume a guest's vCPUs. */
@ConsumerType
public interface PausableDriver extends HypervisorDriver {
    void pause(ZoneContext zone) throws DriverException;

    void resume(ZoneContext zone) throws DriverException;
}

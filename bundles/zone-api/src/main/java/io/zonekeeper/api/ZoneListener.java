package io.zonekeeper.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Register this as a service to hear about every zone state change. Called on a manager thread: return quickly
 * and do not call back into the manager from it.
 */
@ConsumerType
public interface ZoneListener {
    void zoneChanged(ZoneEvent event);
}

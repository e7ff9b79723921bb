package io.zonekeeper.core;

import java.util.Map;

import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;

import io.zonekeeper.spi.HypervisorDriver;

/** One bound driver service, with what the shell shows about where it came from. */
final class DriverBinding {
    final HypervisorDriver driver;
    final String type;
    final long serviceId;
    final int ranking;
    final String bundle;
    final String version;
    /** The bundle that registered the driver, or null outside a framework. */
    final Bundle source;

    DriverBinding(HypervisorDriver driver, ServiceReference<?> ref, Map<String, Object> props) {
        this.driver = driver;
        this.type = driver.type();
        Object id = props.get(Constants.SERVICE_ID);
        this.serviceId = id instanceof Long l ? l : -1L;
        Object rank = props.get(Constants.SERVICE_RANKING);
        this.ranking = rank instanceof Integer i ? i : 0;
        Bundle b = ref == null ? null : ref.getBundle();
        this.bundle = b == null ? "?" : b.getSymbolicName();
        this.version = b == null ? "?" : b.getVersion().toString();
        this.source = b;
    }

    /** For tests and embedders that bind drivers without a framework. */
    DriverBinding(HypervisorDriver driver, String bundle, String version, long serviceId) {
        this.driver = driver;
        this.type = driver.type();
        this.serviceId = serviceId;
        this.ranking = 0;
        this.bundle = bundle;
        this.version = version;
        this.source = null;
    }

    String describe() {
        return bundle + " " + version;
    }
}

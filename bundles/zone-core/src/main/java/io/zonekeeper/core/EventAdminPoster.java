package io.zonekeeper.core;

import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.event.Event;
import org.osgi.service.event.EventAdmin;

/**
 * Hands the core's {@link LifecycleEvents} to the OSGi Event Admin while there is one. The only class that uses
 * {@code org.osgi.service.event}, which the core imports optionally: without an Event Admin this component is
 * never satisfied, never loaded, and the core runs as before.
 */
@Component(service = {}, immediate = true)
public class EventAdminPoster implements LifecycleEvents.Sink {
    @Reference
    private ZoneRegistry registry;
    @Reference
    private EventAdmin eventAdmin;

    @Activate
    void activate() {
        registry.lifecycleEvents().sink(this);
    }

    @Deactivate
    void deactivate() {
        registry.lifecycleEvents().unsink(this);
    }

    @Override
    public void post(String topic, Map<String, Object> properties) {
        // postEvent: delivered asynchronously and in order, so a slow handler never holds up a zone's change.
        eventAdmin.postEvent(new Event(topic, properties));
    }
}

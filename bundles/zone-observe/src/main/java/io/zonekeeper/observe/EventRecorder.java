package io.zonekeeper.observe;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.event.Event;
import org.osgi.service.event.EventConstants;
import org.osgi.service.event.EventHandler;

import io.zonekeeper.spi.StateLocation;

/** Keeps every zone and driver event zone-core posts in the appliance's event log, {@code <state>/events}. */
@Component(service = { EventHandler.class, EventRecorder.class }, immediate = true,
        property = EventConstants.EVENT_TOPIC + "=io/zonekeeper/*")
public class EventRecorder implements EventHandler {
    /** How many events the log keeps. */
    static final int CAPACITY = 1000;

    @Reference
    private StateLocation state;
    private EventLog log;

    @Activate
    void activate() throws IOException {
        log = new EventLog(state.folder("events").resolve("events.jsonl"), CAPACITY);
        log.open();
    }

    @Override
    public void handleEvent(Event event) {
        Map<String, Object> p = new HashMap<>();
        for (String k : event.getPropertyNames()) {
            p.put(k, event.getProperty(k));
        }
        log.append(RecordedEvent.of(event.getTopic(), p, System.currentTimeMillis()));
    }

    List<RecordedEvent> last(int n) {
        return log.last(n);
    }

    void follow(Consumer<RecordedEvent> f) {
        log.follow(f);
    }

    void unfollow(Consumer<RecordedEvent> f) {
        log.unfollow(f);
    }
}

package io.zonekeeper.api;

import java.time.Instant;

/** A zone changed state. {@code previous} is null for a zone just created. */
public record ZoneEvent(String zone, ZoneState previous, ZoneState current, String reason, Instant time) {
}

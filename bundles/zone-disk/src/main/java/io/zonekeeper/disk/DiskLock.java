package io.zonekeeper.disk;

import java.time.Instant;
import java.util.UUID;

/** A durable read-write claim on an image (by its real path) by one zone while it runs. */
public record DiskLock(String path, String zone, UUID zoneId, Instant since) {
}

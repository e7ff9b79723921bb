package io.zonekeeper.passthrough;

import java.util.Objects;
import java.util.UUID;

/**
 * A zone as the ledger knows it: its id, which is what holds a device (a zone destroyed and created again under the
 * same name is another zone), and its name, for people.
 */
public record ZoneRef(UUID id, String name) {
    public ZoneRef {
        Objects.requireNonNull(id, "a zone id is required");
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a zone name is required");
        }
    }

    @Override
    public String toString() {
        return name;
    }
}

package io.zonekeeper.kvm.qmp;

import jakarta.json.JsonObject;

/**
 * An asynchronous QMP event such as {@code SHUTDOWN}, {@code STOP} or {@code RESUME}.
 *
 * @param name the event name
 * @param data its data, empty when it has none
 */
public record QmpEvent(String name, JsonObject data) {
    public static final String SHUTDOWN = "SHUTDOWN";
    public static final String POWERDOWN = "POWERDOWN";
    public static final String STOP = "STOP";
    public static final String RESUME = "RESUME";
    public static final String RESET = "RESET";
    public static final String GUEST_PANICKED = "GUEST_PANICKED";

    /** The reason a SHUTDOWN event gives ({@code guest-shutdown}, {@code host-qmp-quit}, ...), or "". */
    public String reason() {
        return data.getString("reason", "");
    }
}

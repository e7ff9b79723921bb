package io.zonekeeper.guest;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * A zone's guest agent endpoint as its driver recorded it: the value of {@link #RUNTIME_KEY} is
 * {@code TRANSPORT:ADDRESS}. Version 1 knows one transport, {@code unix:PATH}, a Unix stream socket that the
 * hypervisor side holds (on KVM, QEMU listens on it for the virtio-serial port {@link #KVM_PORT_NAME}; on Xen, the
 * channel keeper in dom0 listens on it for the agent's vchan), so the agent's connection outlives the JVM and driver
 * upgrades. Another transport gets another prefix; a host side that does not know a prefix says so instead of
 * guessing.
 */
public record AgentEndpoint(String transport, String address) {
    /** The runtime record key a driver writes. */
    public static final String RUNTIME_KEY = "agent";
    /** The name of the agent's virtio-serial port, which the guest agent looks for under /sys/class/virtio-ports. */
    public static final String KVM_PORT_NAME = "io.zonekeeper.agent";
    public static final String UNIX = "unix";

    public AgentEndpoint {
        if (transport == null || !transport.matches("[a-z][a-z0-9-]{0,15}")) {
            throw new IllegalArgumentException("agent transport must be a short lower-case word: " + transport);
        }
        if (address == null || address.isEmpty()) {
            throw new IllegalArgumentException("agent address is empty");
        }
    }

    /** A Unix socket endpoint. */
    public static AgentEndpoint unix(Path socket) {
        return new AgentEndpoint(UNIX, socket.toAbsolutePath().toString());
    }

    /** The endpoint in a runtime record's properties, if the driver recorded one. */
    public static Optional<AgentEndpoint> of(Map<String, String> runtime) {
        String v = runtime.get(RUNTIME_KEY);
        if (v == null) {
            return Optional.empty();
        }
        int colon = v.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("agent endpoint '" + v + "' is not TRANSPORT:ADDRESS");
        }
        return Optional.of(new AgentEndpoint(v.substring(0, colon), v.substring(colon + 1)));
    }

    /** The runtime record value. */
    @Override
    public String toString() {
        return transport + ":" + address;
    }
}

package io.zonekeeper.agent;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The open links, one per agent socket: the hypervisor serves one client on it, so every exec in a zone shares
 * the zone's link. A link that broke is replaced on next use.
 */
public final class AgentLinks implements AutoCloseable {
    private final Map<Path, AgentLink> links = new HashMap<>();
    private final Duration greetTimeout;
    private boolean closed;

    public AgentLinks(Duration greetTimeout) {
        this.greetTimeout = greetTimeout;
    }

    public synchronized AgentLink link(Path socket) throws AgentException {
        if (closed) {
            throw new AgentException("the agent links are closed (zone-agent stopping)");
        }
        AgentLink l = links.get(socket);
        if (l == null || !l.isOpen()) {
            l = AgentLink.connect(socket, greetTimeout);
            links.put(socket, l);
        }
        return l;
    }

    @Override
    public synchronized void close() {
        closed = true;
        links.values().forEach(AgentLink::close);
        links.clear();
    }
}

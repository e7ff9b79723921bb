/**
 * Where the host reaches a zone's guest agent (docs/AGENT-PROTOCOL.md): the names a driver and the agent's host side
 * agree on. A driver that gives its zones an agent transport records {@link io.zonekeeper.guest.AgentEndpoint#RUNTIME_KEY}
 * in the zone's runtime record; the host side reads it from {@code ZoneInfo.runtime()}.
 *
 * <p>1.0: the runtime key, the KVM port name and the {@code unix:} transport. 1.1: {@link io.zonekeeper.guest.WorkloadLog},
 * where an image zone's workload output is kept.
 */
@Export
@Version("1.1.0")
package io.zonekeeper.guest;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;

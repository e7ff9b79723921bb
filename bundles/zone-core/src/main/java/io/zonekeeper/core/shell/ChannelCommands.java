package io.zonekeeper.core.shell;

import java.util.List;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.core.ChannelBroker;
import io.zonekeeper.core.ChannelCounters;
import io.zonekeeper.core.ZoneRegistry;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;

/** The {@code channel:} shell commands. */
@Component(service = ChannelCommands.class)
@GogoCommand(scope = "channel", function = { "list" })
public class ChannelCommands {

    @Reference
    ZoneRegistry zones;

    @Descriptor("List channels: zone to zone (both ends, state, bytes each guest reports) and to the host")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json) {
        return json ? json(zones.channels()) : table(zones.channels());
    }

    static String table(List<ChannelBroker.Channel> channels) {
        if (channels.isEmpty()) {
            return "no channels; a zone names them in its spec (zone:create --channels NAME or NAME@PEER)";
        }
        Table t = new Table("CHANNEL", "FROM", "TO", "STATE", "BYTES FROM>TO", "BYTES TO>FROM");
        for (ChannelBroker.Channel c : channels) {
            ChannelBroker.End a = c.ends().get(0);
            ChannelBroker.End b = c.ends().size() > 1 ? c.ends().get(1) : null;
            String to = b != null ? b.zone() : c.toHost() ? "host" : c.peer() + " (not named back)";
            String there = b != null ? bytes(a.counters(), b.counters()) : c.toHost() ? sent(a.counters()) : "-";
            String back = b != null ? bytes(b.counters(), a.counters()) : c.toHost() ? received(a.counters()) : "-";
            t.row(c.name(), a.zone(), to, c.state(), there, back);
        }
        return t + "bytes: as each guest's kernel counts them since its boot, reported by the zone init; "
                + "'-' where a guest reported nothing";
    }

    /** One direction: what the sender says it sent and the receiver says it received. */
    private static String bytes(ChannelCounters.Counters from, ChannelCounters.Counters to) {
        if (from == null && to == null) {
            return "-";
        }
        if (from != null && to != null && from.sent() == to.received()) {
            return Long.toString(from.sent());
        }
        return "sent " + (from == null ? "?" : from.sent()) + ", received " + (to == null ? "?" : to.received());
    }

    private static String sent(ChannelCounters.Counters c) {
        return c == null ? "-" : Long.toString(c.sent());
    }

    private static String received(ChannelCounters.Counters c) {
        return c == null ? "-" : Long.toString(c.received());
    }

    static String json(List<ChannelBroker.Channel> channels) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        for (ChannelBroker.Channel c : channels) {
            JsonArrayBuilder ends = Json.createArrayBuilder();
            for (ChannelBroker.End e : c.ends()) {
                JsonObjectBuilder o = Json.createObjectBuilder().add("zone", e.zone()).add("state", e.state().name())
                        .add("role", e.role());
                if (e.counters() == null) {
                    o.addNull("sent").addNull("received");
                } else {
                    o.add("sent", e.counters().sent()).add("received", e.counters().received());
                }
                ends.add(o);
            }
            JsonObjectBuilder o = Json.createObjectBuilder().add("name", c.name())
                    .add("kind", c.toHost() ? "host" : "zone").add("paired", c.paired()).add("state", c.state())
                    .add("ends", ends);
            if (!c.toHost()) {
                o.add("peer", c.peer());
            }
            if (c.socket() == null) {
                o.addNull("socket");
            } else {
                o.add("socket", c.socket());
            }
            a.add(o);
        }
        return a.build().toString();
    }
}

package io.zonekeeper.core.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.ChannelBroker;
import io.zonekeeper.core.ChannelCounters;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

/** channel:list never shows a number no guest reported, and shows a disagreement as one. */
public class ChannelCommandsTest {
    private static ChannelBroker.End end(String zone, String role, ChannelCounters.Counters c) {
        return new ChannelBroker.End(zone, ZoneState.RUNNING, role, c);
    }

    private final List<ChannelBroker.Channel> channels = List.of(
            new ChannelBroker.Channel("data", List.of(end("a", "listens", new ChannelCounters.Counters(100, 7)),
                    end("b", "connects", new ChannelCounters.Counters(7, 90))), "b", true, "both running", "/s/x.sock"),
            new ChannelBroker.Channel("quiet", List.of(end("a", "listens", null), end("c", "connects", null)), "c",
                    true, "both running", "/s/y.sock"),
            new ChannelBroker.Channel("log", List.of(end("a", "host", new ChannelCounters.Counters(5, 0))), "host",
                    true, "running", null));

    @Test
    public void theTableShowsAgreementAsOneNumberAndADisagreementAsBoth() {
        String t = ChannelCommands.table(channels);
        assertTrue(t, t.contains("sent 100, received 90"));
        assertTrue(t, t.matches("(?s).*data\\s+a\\s+b\\s+both running\\s+sent 100, received 90\\s+7\n.*"));
        assertTrue(t, t.matches("(?s).*quiet\\s+a\\s+c\\s+both running\\s+-\\s+-\n.*"));
        assertTrue(t, t.matches("(?s).*log\\s+a\\s+host\\s+running\\s+5\\s+0\n.*"));
    }

    @Test
    public void jsonHasNullWhereAGuestReportedNothing() {
        JsonArray a = Json.createReader(new StringReader(ChannelCommands.json(channels))).readArray();
        JsonObject quiet = a.getJsonObject(1);
        assertEquals("zone", quiet.getString("kind"));
        assertTrue(quiet.getJsonArray("ends").getJsonObject(0).isNull("sent"));
        JsonObject data = a.getJsonObject(0);
        assertEquals(100, data.getJsonArray("ends").getJsonObject(0).getJsonNumber("sent").longValue());
        assertEquals("/s/x.sock", data.getString("socket"));
        assertEquals("host", a.getJsonObject(2).getString("kind"));
    }
}

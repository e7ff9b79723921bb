package io.zonekeeper.network.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.network.Lease;
import io.zonekeeper.network.NetworkRecord;
import io.zonekeeper.network.Uplink;
import io.zonekeeper.network.ipv4.Cidr;
import io.zonekeeper.network.ipv6.Ula;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/** What {@code net:list --json} and {@code net:info --json} print, read back as a script would. */
public class NetworkJsonTest {
    private static final UUID NET_ID = UUID.fromString("00000000-0000-0000-0000-00000000000a");
    private static final UUID ZONE_ID = UUID.fromString("00000000-0000-0000-0000-0000000000b1");
    private static final Instant CREATED = Instant.parse("2026-12-01T10:00:00Z");

    private static NetworkRecord natNetworkWithALease() {
        Lease web = new Lease("web", ZONE_ID, "10.99.0.2", "fd12:3456:789a:0:5054:ff:fe00:1", "52:54:00:00:00:01",
                "zkt0123456789a");
        return new NetworkRecord("front", NET_ID, Cidr.parse("10.99.0.0/24"), Ula.parse("fd12:3456:789a::/64"), true,
                "eth1", List.of(new Uplink("eth1", "0")), "zkb-front", CREATED, List.of(web));
    }

    private static NetworkRecord plainNetwork() {
        return new NetworkRecord("back", UUID.randomUUID(), Cidr.parse("10.98.0.0/24"), null, false, null, List.of(),
                "zkb-back", CREATED, List.of());
    }

    private static JsonArray array(String json) {
        return Json.createReader(new StringReader(json)).readArray();
    }

    private static JsonObject object(String json) {
        return Json.createReader(new StringReader(json)).readObject();
    }

    @Test
    public void listGivesEveryNetworkWithItsGatewaysUplinksAndLeases() {
        JsonArray all = array(NetworkJson.list(List.of(natNetworkWithALease(), plainNetwork())));
        assertEquals(2, all.size());
        JsonObject front = all.getJsonObject(0);
        assertEquals("front", front.getString("name"));
        assertEquals(NET_ID.toString(), front.getString("id"));
        assertEquals("10.99.0.0/24", front.getString("subnet"));
        assertEquals("10.99.0.1", front.getString("gateway"));
        assertEquals("fd12:3456:789a::/64", front.getString("ipv6"));
        assertEquals("fd12:3456:789a::1", front.getString("gateway6"));
        assertEquals("zkb-front", front.getString("bridge"));
        assertTrue(front.getBoolean("nat"));
        assertEquals("eth1", front.getString("uplink"));
        assertEquals("eth1", front.getJsonArray("uplinks").getJsonObject(0).getString("name"));
        assertEquals("0", front.getJsonArray("uplinks").getJsonObject(0).getString("forwardingBefore"));
        assertEquals(CREATED.toString(), front.getString("created"));
        JsonObject lease = front.getJsonArray("leases").getJsonObject(0);
        assertEquals("web", lease.getString("zone"));
        assertEquals(ZONE_ID.toString(), lease.getString("zoneId"));
        assertEquals("10.99.0.2", lease.getString("ip"));
        assertEquals("fd12:3456:789a:0:5054:ff:fe00:1", lease.getString("ip6"));
        assertEquals("52:54:00:00:00:01", lease.getString("mac"));
        assertEquals("zkt0123456789a", lease.getString("tap"));
    }

    @Test
    public void whatANetworkDoesNotHaveIsNullNotMissing() {
        JsonObject back = array(NetworkJson.list(List.of(plainNetwork()))).getJsonObject(0);
        for (String key : List.of("ipv6", "gateway6", "uplink")) {
            assertTrue(key + " is there", back.containsKey(key));
            assertEquals(key, JsonValue.NULL, back.get(key));
        }
        assertEquals(false, back.getBoolean("nat"));
        assertEquals(0, back.getJsonArray("leases").size());
        assertEquals(0, back.getJsonArray("uplinks").size());
    }

    @Test
    public void anEmptyListIsAnEmptyArray() {
        assertEquals(0, array(NetworkJson.list(List.of())).size());
    }

    @Test
    public void infoAddsTheZonesThatNameTheNetwork() {
        JsonObject front = object(NetworkJson.info(natNetworkWithALease(), List.of("api", "web")));
        assertEquals("front", front.getString("name"));
        assertEquals(List.of("api", "web"), front.getJsonArray("zones").getValuesAs(jakarta.json.JsonString.class)
                .stream().map(s -> s.getString()).toList());
        assertEquals(1, front.getJsonArray("leases").size());
    }
}

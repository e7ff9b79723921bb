package io.zonekeeper.disk.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.disk.DiskImage;
import io.zonekeeper.disk.DiskLock;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/** What {@code disk:list --json} prints, read back as a script would. */
public class DiskJsonTest {
    private static final UUID ZONE_ID = UUID.fromString("00000000-0000-0000-0000-0000000000c1");
    private static final Instant SINCE = Instant.parse("2026-12-01T11:30:00Z");

    private static JsonArray list(DiskImage... disks) {
        return Json.createReader(new StringReader(DiskJson.list(List.of(disks)))).readArray();
    }

    @Test
    public void aHeldDiskNamesItsHolderAndAFreeOneHasANullHolder() {
        DiskImage held = new DiskImage("data", Path.of("/var/lib/zonekeeper/disks/data.img"), "raw", 67108864L,
                new DiskLock("/var/lib/zonekeeper/disks/data.img", "db", ZONE_ID, SINCE));
        DiskImage free = new DiskImage("scratch", Path.of("/var/lib/zonekeeper/disks/scratch.qcow2"), "qcow2",
                196616L, null);
        JsonArray all = list(held, free);
        assertEquals(2, all.size());

        JsonObject data = all.getJsonObject(0);
        assertEquals("data", data.getString("name"));
        assertEquals("/var/lib/zonekeeper/disks/data.img", data.getString("path"));
        assertEquals("raw", data.getString("format"));
        assertEquals(67108864L, data.getJsonNumber("bytes").longValueExact());
        JsonObject holder = data.getJsonObject("holder");
        assertEquals("db", holder.getString("zone"));
        assertEquals(ZONE_ID.toString(), holder.getString("zoneId"));
        assertEquals(SINCE.toString(), holder.getString("since"));

        JsonObject scratch = all.getJsonObject(1);
        assertEquals("qcow2", scratch.getString("format"));
        assertEquals(196616L, scratch.getJsonNumber("bytes").longValueExact());
        assertTrue(scratch.containsKey("holder"));
        assertEquals(JsonValue.NULL, scratch.get("holder"));
    }

    @Test
    public void noDisksIsAnEmptyArray() {
        assertEquals(0, list().size());
    }
}

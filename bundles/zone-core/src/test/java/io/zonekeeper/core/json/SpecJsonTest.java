package io.zonekeeper.core.json;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;

public class SpecJsonTest {

    @Test
    public void aSpecSurvivesTheRoundTrip() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("web").kernel("/boot/vmlinuz").vcpus(2).memoryMiB(256).hypervisor("kvm")
                .channel(new ChannelSpec("data", "db")).network(new NetworkAttachment("lan", null))
                .disk(new DiskSpec("/var/lib/zonekeeper/disks/web.img", "raw", true)).label("tier", "front").build();
        assertEquals(spec, SpecJson.parse(SpecJson.toJson(spec).toString()));
    }

    @Test
    public void typosAndWrongTypesAreNamedAlongsideValidationErrors() {
        try {
            SpecJson.parse("{\"name\":\"ok\",\"memroy\":128,\"vcpus\":\"two\",\"channels\":[{\"name\":\"Bad Name\"}]}");
            fail("accepted");
        } catch (InvalidSpecException e) {
            List<String> fields = e.errors().stream().map(FieldError::field).toList();
            assertEquals(List.of("memroy", "vcpus", "channels[0].name"), fields);
        }
    }

    @Test
    public void aNumberWhoseExponentDoesNotFitAnIntIsRefusedNotThrown() {
        // Found by the fuzzer: BigDecimal throws NumberFormatException for "64e111111111111" while the JSON is read.
        try {
            SpecJson.parse("{\"name\":\"a\",\"memoryMiB\":64e111111111111111111111}");
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("number out of range"));
        }
    }

    @Test
    public void brokenJsonSaysWhere() {
        try {
            SpecJson.parse("{\"name\": \"a\",\n \"vcpus\": }");
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("line 2"));
        }
    }

    @Test
    public void unknownKeysAreRefusedAtEveryDepthByTheirPath() {
        try {
            SpecJson.parse("{\"name\":\"ok\",\"disks\":[{\"path\":\"/srv/a.img\",\"readOnly\":true}],"
                    + "\"networks\":[{\"network\":\"lan\",\"mac\":\"x\"}],\"devices\":[{\"address\":\"0000:00:1f.0\","
                    + "\"rom\":false}],\"channels\":[{\"name\":\"data\",\"Peer\":\"db\"}]}");
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertEquals(List.of(
                    "devices[0].rom: unknown field; known: type, address",
                    "channels[0].Peer: unknown field; known: name, peer (did you mean peer?)",
                    "networks[0].mac: unknown field; known: network, ip",
                    "disks[0].readOnly: unknown field; known: path, format, readonly (did you mean readonly?)"),
                    e.errors().stream().map(FieldError::toString).toList());
        }
    }

    @Test
    public void aDeepSpecIsRefusedBeforeAnythingIsBuilt() {
        String deep = "{\"name\":\"deep\",\"labels\":" + "{\"a\":".repeat(20_000) + "1" + "}".repeat(20_000) + "}";
        try {
            SpecJson.parse(deep);
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertEquals("(spec): nests deeper than 32 levels (line 1, column 181)",
                    e.errors().get(0).toString());
        }
    }

    @Test
    public void anOversizeSpecIsRefused() {
        try {
            SpecJson.parse("{\"name\":\"big\",\"cmdline\":\"" + "x".repeat(BoundedJson.MAX_BYTES) + "\"}");
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertEquals("(spec): is longer than " + BoundedJson.MAX_BYTES + " characters",
                    e.errors().get(0).toString());
        }
    }

    @Test
    public void nestingUpToTheLimitIsRead() {
        assertEquals(BoundedJson.MAX_DEPTH, depth(BoundedJson.read("[".repeat(BoundedJson.MAX_DEPTH)
                + "]".repeat(BoundedJson.MAX_DEPTH))));
    }

    private static int depth(jakarta.json.JsonValue v) {
        return v instanceof jakarta.json.JsonArray a ? 1 + (a.isEmpty() ? 0 : depth(a.get(0))) : 0;
    }

    @Test
    public void anImageZoneWithItsWorkloadSurvivesTheRoundTrip() throws Exception {
        ZoneSpec spec = ZoneSpec.builder("web").image("web:1").workload(new io.zonekeeper.api.WorkloadSpec(
                List.of("sh", "-c", "echo \"$A\"; exit 3"), List.of("A=a b"), "/srv", "app")).build();
        assertEquals(spec, SpecJson.parse(SpecJson.toJson(spec).toString()));
    }

    @Test
    public void unknownAndMistypedWorkloadFieldsAreNamed() {
        try {
            SpecJson.parse("{\"name\":\"ok\",\"image\":\"web:1\",\"workload\":{\"cmd\":[\"x\"],"
                    + "\"env\":[1],\"user\":5}}");
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertEquals(List.of("workload.cmd", "workload.env[0]", "workload.user"),
                    e.errors().stream().map(FieldError::field).toList());
        }
    }
}

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
    public void brokenJsonSaysWhere() {
        try {
            SpecJson.parse("{\"name\": \"a\",\n \"vcpus\": }");
            fail("accepted");
        } catch (InvalidSpecException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("line 2"));
        }
    }
}

package io.zonekeeper.api;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.stream.Collectors;

import org.junit.Test;

public class ZoneSpecTest {

    @Test
    public void aMinimalSpecIsValid() {
        assertEquals(List.of(), ZoneSpec.builder("web-1").build().validate());
    }

    @Test
    public void everyBrokenFieldIsNamedNotJustTheFirst() {
        ZoneSpec spec = ZoneSpec.builder("Bad Name").kernel("relative/vmlinuz").vcpus(0).memoryMiB(8)
                .device(DeviceSpec.pci("0000:01:00.0/../../x")).channel(ChannelSpec.toHost("ok"))
                .channel(ChannelSpec.toHost("ok")).disk(new DiskSpec("/var/disk.img", "vmdk", false)).build();
        List<String> fields = spec.validate().stream().map(FieldError::field).collect(Collectors.toList());
        assertEquals(List.of("name", "kernel", "vcpus", "memoryMiB", "devices[0].address", "channels[1].name",
                "disks[0].format"), fields);
    }

    @Test
    public void pathsWithCommasAreRefusedBecauseTheyWouldSplitHypervisorOptions() {
        List<FieldError> errors = ZoneSpec.builder("a").initramfs("/tmp/x,id=evil").build().validate();
        assertEquals(1, errors.size());
        assertEquals("initramfs", errors.get(0).field());
    }

    @Test
    public void aChannelToItselfIsRefused() {
        List<FieldError> errors = ZoneSpec.builder("a").channel(new ChannelSpec("data", "a")).build().validate();
        assertEquals("channels[0].peer", errors.get(0).field());
    }

    @Test
    public void requireValidThrowsWithEveryError() {
        try {
            ZoneSpec.builder("").vcpus(999).build().requireValid();
        } catch (InvalidSpecException e) {
            assertEquals(2, e.errors().size());
            assertTrue(e.getMessage(), e.getMessage().contains("name: is required"));
            return;
        }
        throw new AssertionError("expected InvalidSpecException");
    }

    @Test
    public void toBuilderRoundTrips() {
        ZoneSpec spec = ZoneSpec.builder("z").vcpus(2).memoryMiB(256).channel(new ChannelSpec("c", "peer"))
                .network(new NetworkAttachment("lan", "10.0.0.5")).label("team", "infra").build();
        assertEquals(spec, spec.toBuilder().build());
    }

    @Test
    public void anImageZoneWithAWorkloadIsValidAndKeepsItThroughToBuilder() {
        ZoneSpec spec = ZoneSpec.builder("web").image("web:1").workload(new WorkloadSpec(List.of("sh", "-c", "exit 3"),
                List.of("A=1", "B="), "/srv", "1000:1000")).build();
        assertEquals(List.of(), spec.validate());
        assertEquals(spec, spec.toBuilder().build());
        assertEquals("web:1", spec.toBuilder().build().image());
    }

    @Test
    public void aWorkloadWithoutAnImageIsRefused() {
        List<FieldError> errors = ZoneSpec.builder("a").workload(new WorkloadSpec(List.of("true"), List.of(), "", ""))
                .build().validate();
        assertEquals(List.of("workload"), errors.stream().map(FieldError::field).toList());
    }

    @Test
    public void brokenWorkloadFieldsAreEachNamed() {
        ZoneSpec spec = ZoneSpec.builder("a").image("bad ref").initramfs("/boot/own.img")
                .workload(new WorkloadSpec(List.of("a\0b"), List.of("=x", "NOEQ"), "rel/dir", "root;id")).build();
        assertEquals(List.of("image", "initramfs", "workload.command[0]", "workload.env[0]", "workload.env[1]",
                "workload.workdir", "workload.user"), spec.validate().stream().map(FieldError::field).toList());
    }
}

package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;

import java.io.StringReader;
import java.util.List;
import java.util.Map;

import org.junit.Test;

import io.zonekeeper.api.metrics.ZoneMetric;
import jakarta.json.Json;

public class BlockStatsTest {
    @Test
    public void eachNamedDeviceGivesItsFourCounters() {
        // The shape of QEMU 7.2's answer, cut to what is read; a device without a name is skipped.
        String answer = "[{\"device\":\"\",\"qdev\":\"/machine/peripheral/disk0/virtio-backend\",\"stats\":{"
                + "\"rd_bytes\":4096,\"wr_bytes\":512,\"rd_operations\":3,\"wr_operations\":1}},"
                + "{\"device\":\"\",\"stats\":{\"rd_bytes\":1}},{\"device\":\"x\"}]";
        List<ZoneMetric> m = BlockStats.parse(Json.createReader(new StringReader(answer)).readArray());
        assertEquals(4, m.size());
        assertEquals("zonekeeper_zone_disk_read_bytes", m.get(0).name());
        assertEquals(4096, m.get(0).value(), 0);
        assertEquals(Map.of("device", "/machine/peripheral/disk0/virtio-backend"), m.get(0).labels());
        assertEquals(512, m.get(1).value(), 0);
        assertEquals(3, m.get(2).value(), 0);
        assertEquals(1, m.get(3).value(), 0);
    }

    @Test
    public void noConnectionMeansNoFigures() {
        assertEquals(List.of(), BlockStats.of(null));
    }
}

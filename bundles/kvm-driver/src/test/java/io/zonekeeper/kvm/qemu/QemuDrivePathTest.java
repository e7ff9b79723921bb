package io.zonekeeper.kvm.qemu;

import static org.junit.Assert.assertEquals;

import java.io.StringReader;
import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;
import jakarta.json.Json;
import jakarta.json.JsonObject;

/**
 * A prepared disk's real path (through a link it may hold commas or quotes) reaches QEMU intact, because -blockdev
 * takes it as a JSON string; only the formats the appliance records pass.
 */
public class QemuDrivePathTest {
    private static PreparedResources disks(String format, String... paths) {
        return new PreparedResources(List.of(), java.util.Arrays.stream(paths)
                .map(p -> new PreparedDisk("d", p, format, false)).toList());
    }

    private static ZoneSpec spec(String... paths) {
        ZoneSpec.Builder b = ZoneSpec.builder("web");
        for (String p : paths) {
            b.disk(new DiskSpec(p, "raw", false));
        }
        return b.build();
    }

    @Test
    public void aPathWithACommaOrAQuoteIsCarriedVerbatim() {
        String odd = "/s/disks/a,b \"c\".img";
        assertEquals(List.of(), StartChecks.prepared(spec("/s/disks/link.img"), disks("raw", odd)));
        List<String> args = QemuCommandLine.blockdevs(new PreparedDisk("d", odd, "raw", false), 0);
        JsonObject file = Json.createReader(new StringReader(args.get(1))).readObject();
        assertEquals(odd, file.getString("filename"));
    }

    @Test
    public void aFormatTheApplianceDoesNotRecordIsRefused() {
        assertEquals(List.of(new FieldError("disks[0].format", "/s/disks/a.vmdk (vmdk) cannot be a QEMU drive")),
                StartChecks.prepared(spec("/s/disks/a.vmdk"), disks("vmdk", "/s/disks/a.vmdk")));
    }
}

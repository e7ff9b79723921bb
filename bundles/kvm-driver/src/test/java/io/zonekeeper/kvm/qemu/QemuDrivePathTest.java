package io.zonekeeper.kvm.qemu;

import static org.junit.Assert.assertEquals;

import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;

/**
 * The comma rule for disk paths is QEMU's, so the KVM driver holds it, not the disk provider. A spec's paths have no
 * commas, but the real path the provider resolves (through a link) may.
 */
public class QemuDrivePathTest {
    private static PreparedResources disks(String... paths) {
        return new PreparedResources(List.of(), java.util.Arrays.stream(paths)
                .map(p -> new PreparedDisk("d", p, "raw", false)).toList());
    }

    private static ZoneSpec spec(String... paths) {
        ZoneSpec.Builder b = ZoneSpec.builder("web");
        for (String p : paths) {
            b.disk(new DiskSpec(p, "raw", false));
        }
        return b.build();
    }

    @Test
    public void aPreparedDiskWithACommaIsRefusedNamingTheFieldAndWhy() {
        List<FieldError> errors = StartChecks.prepared(spec("/s/disks/ok.img", "/s/disks/link.img"),
                disks("/s/disks/ok.img", "/s/disks/a,b.img"));
        assertEquals(List.of(new FieldError("disks[1].path", "/s/disks/a,b.img has a comma, which a QEMU -drive "
                + "option cannot carry; rename the image or link it from a path without one")), errors);
    }

    @Test
    public void pathsWithoutACommaPass() {
        assertEquals(List.of(), StartChecks.prepared(spec("/s/disks/a b.img"), disks("/s/disks/a b.img")));
    }
}

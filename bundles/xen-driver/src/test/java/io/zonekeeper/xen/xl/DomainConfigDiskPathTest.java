package io.zonekeeper.xen.xl;

import static org.junit.Assert.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.xen.xl.DomainConfig.BootFiles;

/**
 * The disk provider leaves path rules to drivers. A spec's paths have no commas, but the real path the provider
 * resolves (through a link) may; xl reads everything after target= as the path, commas too.
 */
public class DomainConfigDiskPathTest {
    @Test
    public void aDiskPathWithACommaIsRenderedWholeAsTheLastKey() throws Exception {
        UUID id = UUID.fromString("6b1f2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3");
        BootFiles boot = new BootFiles(Path.of("/boot/vmlinuz"), Path.of("/s/cache/xen/zone.cpio.gz"), true,
                Set.of("disk"), Map.of());
        ZoneSpec spec = ZoneSpec.builder("web").disk(new DiskSpec("/s/disks/link.img", "raw", false)).build();
        PreparedResources res = new PreparedResources(List.of(),
                List.of(new PreparedDisk("a-b", "/s/disks/a,b.img", "raw", false)));
        String disk = DomainConfigTest.keys(DomainConfig.render(id, spec, boot, DomainConfig.PV, res,
                new DomainConfig.Backends(Path.of("/c/zk-vif"), Path.of("/c/zk-block"), name -> false))).get("disk");
        assertEquals("[ 'format=raw,vdev=xvda,access=rw,backendtype=phy,script=/c/zk-block,target=/s/disks/a,b.img' ]",
                disk);
    }
}

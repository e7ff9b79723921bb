package io.zonekeeper.images;

import static org.junit.Assert.assertEquals;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.api.image.ImageConfig;
import io.zonekeeper.api.image.ImageInfo;

public class ZoneSpecImageUsersTest {
    private static final String ID = "sha256:" + "ab12".repeat(16);
    private static final ImageInfo IMAGE = new ImageInfo(ID, List.of("web:1"), Path.of("/x/rootfs.squashfs"),
            "squashfs", 1, 1, List.of(), "amd64", "linux", new ImageConfig(List.of(), List.of(), List.of(), "", ""),
            Instant.EPOCH);

    private static ZoneInfo zone(String name, String image) {
        ZoneSpec.Builder b = ZoneSpec.builder(name);
        if (image != null) {
            b.image(image);
        }
        return new ZoneInfo(UUID.randomUUID(), b.build(), ZoneState.DEFINED, null, null, false, Map.of(),
                Instant.EPOCH);
    }

    @Test
    public void zonesNamingTheImageByNameIdOrIdPrefixUseIt() {
        List<ZoneInfo> zones = List.of(zone("by-name", "web:1"), zone("by-id", ID), zone("by-prefix", "ab12ab12ab12"),
                zone("other-name", "web:2"), zone("short-prefix", "ab12ab"), zone("no-image", null));
        assertEquals(List.of("by-id", "by-name", "by-prefix"), ZoneSpecImageUsers.using(zones, IMAGE));
    }
}

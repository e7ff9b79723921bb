package io.zonekeeper.kvm.jail;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.Test;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedResources;

public class ZoneJailsTest {
    private static final ZoneSpec PAIRED = ZoneSpec.builder("b").channel(new ChannelSpec("pipe", "a")).build();

    private static PreparedResources channel(boolean listens) {
        return new PreparedResources(List.of(), List.of(), List.of(), List.of(new PreparedChannel("pipe", "a",
                "/var/lib/zk/channels/x.sock", listens)));
    }

    @Test
    public void theConnectingSideOfAZoneToZoneChannelGetsARootOfItsOwnHoldingOnlyItsChannelsFolder()
            throws Exception {
        Path state = Files.createTempDirectory("zk-jails");
        ZoneJails jails = new ZoneJails(JailSettings.DEFAULT, state.resolve("kvm-jail"));
        assertEquals(Optional.empty(), jails.whyUnjailed(PAIRED, channel(false)));
        UUID zone = UUID.randomUUID();
        ZoneJail j = jails.open(zone, PAIRED, channel(false));
        try {
            assertEquals(state.resolve("kvm-jails").resolve(zone.toString()), j.root());
            assertEquals(Map.of("pipe", Path.of("/var/lib/zk/channels/x.d")), j.connecting());
            try (Stream<Path> in = Files.list(j.root())) {
                assertEquals(List.of(j.root().resolve("c0")), in.toList());
            }
            assertEquals("r-xr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(j.root())));
        } finally {
            jails.close(zone);
        }
        assertFalse(Files.exists(j.root()));
        // The listening side holds its socket from before the switch: it keeps the shared empty root.
        UUID listener = UUID.randomUUID();
        try {
            assertEquals(state.resolve("kvm-jail"), jails.open(listener, PAIRED, channel(true)).root());
        } finally {
            jails.close(listener);
        }
    }

    @Test
    public void jailFalseRunsEveryZoneUnconfined() {
        ZoneJails jails = new ZoneJails(new JailSettings(false, 64000, 10, 256, null), Path.of("/tmp/unused"));
        assertEquals(Optional.of("jail=false in the configuration"), jails.whyUnjailed(ZoneSpec.builder("z").build(),
                PreparedResources.NONE));
        assertTrue(jails.describe().get("jail").startsWith("off:"));
        assertTrue(jails.describe().get("cgroup").startsWith("none:"));
    }
}

package io.zonekeeper.kvm.jail;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

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
    public void theConnectingSideOfAZoneToZoneChannelRunsUnconfinedAndSaysWhy() {
        ZoneJails jails = new ZoneJails(JailSettings.DEFAULT, Path.of("/tmp/unused-jail-root"));
        Optional<String> why = jails.whyUnjailed(PAIRED, channel(false));
        assertTrue(why.orElse("jailed").contains("channel pipe connects to zone a"));
        // The listening side holds its socket from before the switch, so the channel does not keep it from a jail.
        assertFalse(jails.whyUnjailed(PAIRED, channel(true)).orElse("").contains("channel"));
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

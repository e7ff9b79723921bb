package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;

import org.junit.Test;

import io.zonekeeper.spi.StateLocation;

/** One resolution of the state directory: zone-core's setting, then the framework property, then one default. */
public class ApplianceStateLocationTest {
    @Test
    public void theSettingWinsOverTheFrameworkProperty() {
        assertEquals(Path.of("/srv/zk"), ApplianceStateLocation.resolve("/srv/zk", "/tmp/other"));
    }

    @Test
    public void theFrameworkPropertyIsUsedWhenNothingIsConfigured() {
        assertEquals(Path.of("/tmp/state"), ApplianceStateLocation.resolve("", " /tmp/state "));
    }

    @Test
    public void withNeitherTheDefaultIsTheOneTheSpiNames() {
        assertEquals(StateLocation.DEFAULT_DIRECTORY, ApplianceStateLocation.resolve("", null));
        assertEquals(Path.of("/var/lib/zonekeeper"), ApplianceStateLocation.resolve(" ", ""));
    }

    @Test
    public void aRelativeSettingIsMadeAbsolute() {
        Path p = ApplianceStateLocation.resolve("state/../zk", null);
        assertTrue(p.toString(), p.isAbsolute());
        assertEquals("zk", p.getFileName().toString());
    }

    @Test
    public void aBundleGetsItsOwnFolderButNoneOutside() {
        StateLocation s = new ApplianceStateLocation(Path.of("/srv/zk"));
        assertEquals(Path.of("/srv/zk/cache/kvm"), s.folder("cache/kvm"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.folder("../etc"));
        assertTrue(e.getMessage(), e.getMessage().contains("not a folder inside the state directory"));
        assertThrows(IllegalArgumentException.class, () -> s.folder("/etc"));
    }
}

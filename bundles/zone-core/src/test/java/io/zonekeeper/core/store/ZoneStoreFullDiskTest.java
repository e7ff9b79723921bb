package io.zonekeeper.core.store;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.Assume;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.hostio.FullStateDisk;

/**
 * zone-core on a real state disk that fills up (a tmpfs mounted as root): commands that would write a record fail
 * with a clear error, and the zones already recorded load whole when the appliance comes back.
 */
public class ZoneStoreFullDiskTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static ZoneRegistry open(Path state, Path declared) throws Exception {
        ZoneRegistry r = new ZoneRegistry();
        r.open(state, declared, Duration.ofMillis(200), Duration.ofSeconds(1));
        return r;
    }

    @Test
    public void aFullStateDiskRefusesNewRecordsClearlyAndLosesNoneWritten() throws Exception {
        Assume.assumeTrue("mounting a tmpfs needs root; run as root (scripts/test does)", FullStateDisk.canMount());
        Path state = tmp.newFolder("state").toPath();
        Path declared = tmp.newFolder("zones").toPath();
        try (FullStateDisk disk = FullStateDisk.mount(state, 256)) {
            ZoneRegistry registry = open(state, declared);
            String before;
            try {
                registry.create(ZoneSpec.builder("web").memoryMiB(128).label("tier", "front").build());
                before = Files.readString(state.resolve("zones/web/zone.json"));
                disk.fill();

                ZoneException create = assertThrows(ZoneException.class, () -> registry.create(
                        ZoneSpec.builder("db").memoryMiB(256).build()));
                assertTrue(create.getMessage(), create.getMessage().contains("no space left on the state disk"));
                assertEquals(List.of("web"), registry.list().stream().map(ZoneInfo::name).toList());
            } finally {
                registry.close();
            }
            assertEquals(before, Files.readString(state.resolve("zones/web/zone.json")));

            // The next appliance, on the same full disk, still finds web whole.
            ZoneRegistry again = open(state, declared);
            try {
                ZoneInfo web = again.list().stream().filter(z -> z.name().equals("web")).findFirst().orElseThrow();
                assertEquals(128, web.spec().memoryMiB());
                assertEquals("front", web.spec().labels().get("tier"));
            } finally {
                again.close();
            }
        }
    }
}

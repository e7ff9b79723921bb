package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.Test;

import io.zonekeeper.spi.ResourceKind;

/** The one registry behind resource providers and device backends: first bound is used, the rest stand by. */
public class KeyedServicesTest {

    @Test
    public void theFirstBoundOfAKeyIsUsedAndTheNextTakesOverWhenItLeaves() {
        KeyedServices<String, String> backends = new KeyedServices<>();
        backends.add("pci", "vfio");
        backends.add("pci", "xen-pciback");
        backends.add("tpm", "swtpm");
        assertEquals("vfio", backends.first("pci"));
        assertEquals(Map.of("pci", "vfio", "tpm", "swtpm"), backends.used());

        backends.remove("vfio");
        assertEquals("xen-pciback", backends.first("pci"));
        backends.remove("xen-pciback");
        assertNull(backends.first("pci"));
        assertEquals(Map.of("tpm", "swtpm"), backends.used());
    }

    @Test
    public void allListsEveryServiceKeysInTheirNaturalOrder() {
        KeyedServices<ResourceKind, String> providers = new KeyedServices<>();
        providers.add(ResourceKind.DISK, "disks");
        providers.add(ResourceKind.NETWORK, "networks");
        providers.add(ResourceKind.NETWORK, "standby networks");
        assertEquals(List.of("networks", "standby networks", "disks"), providers.all());
    }

    @Test
    public void awaitGivesTheBoundServiceOrNullWhenNoneCame() {
        KeyedServices<String, String> backends = new KeyedServices<>();
        assertNull(backends.await("pci", Duration.ofMillis(1)));
        backends.add("pci", "vfio");
        assertEquals("vfio", backends.await("pci", Duration.ofSeconds(5)));
    }
}

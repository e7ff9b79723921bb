package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ModuleGroupsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static Map<String, List<String>> features() {
        Map<String, List<String>> f = new LinkedHashMap<>();
        f.put("channels", List.of("virtio_mmio", "virtio_console"));
        f.put("disk", List.of("virtio_mmio", "ext4"));
        f.put("gpu", List.of("no-such-driver"));
        return f;
    }

    @Test
    public void eachFeatureGetsItsModulesOrTheReasonItCannot() throws IOException {
        Path root = tmp.getRoot().toPath();
        KernelModulesTest.index(root.resolve("modules").resolve("6.1.0-test"));
        Path kernel = Files.writeString(root.resolve("vmlinuz-6.1.0-test"), "not a bzImage");
        ModuleGroups g = ModuleGroups.of(kernel, root.resolve("modules"), features());
        assertEquals("6.1.0-test", g.release());
        assertEquals("in the order asked", List.of("channels", "disk"), List.copyOf(g.groups().keySet()));
        assertEquals(List.of("virtio_ring", "virtio", "virtio_mmio", "crc32c_intel", "crc32c_generic", "jbd2",
                "mbcache", "crc16", "ext4"), g.groups().get("disk").stream().map(KernelModules.Module::name).toList());
        assertTrue(g.missing().get("gpu"), g.missing().get("gpu").contains("kernel module no_such_driver"));
        ModuleGroups less = g.without("channels", "no backend");
        assertEquals(List.of("disk"), List.copyOf(less.groups().keySet()));
        assertEquals(List.of("gpu", "channels"), List.copyOf(less.missing().keySet()));
        assertEquals("no backend", less.missing().get("channels"));
    }

    @Test
    public void aKernelOfUnknownReleaseOrWithoutModulesGivesNoFeature() throws IOException {
        Path root = tmp.getRoot().toPath();
        ModuleGroups unknown = ModuleGroups.of(Files.writeString(root.resolve("kernel"), "x"), root, features());
        assertTrue(unknown.groups().isEmpty());
        assertTrue(unknown.missing().get("channels"), unknown.missing().get("channels").contains("release of kernel"));
        ModuleGroups none = ModuleGroups.of(Files.writeString(root.resolve("vmlinuz-9.9"), "x"), root, features());
        assertEquals("9.9", none.release());
        assertTrue(none.groups().isEmpty());
        assertTrue(none.missing().get("disk"), none.missing().get("disk").contains("no modules.dep in"));
        assertEquals(List.of("channels", "disk", "gpu"), List.copyOf(none.missing().keySet()));
    }
}

package io.zonekeeper.xen;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;

import io.zonekeeper.api.ZoneSpec;
import jakarta.json.Json;
import jakarta.json.JsonObject;

/**
 * Reads the shared zone spec files of examples/zones/ for tests. zone-core owns the real spec reader; drivers do
 * not import it, so this reads just the plain fields those files use.
 */
public final class SpecFiles {
    public static final Path HELLO = locate("examples/zones/hello.json");

    private SpecFiles() {
    }

    private static Path locate(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.exists(dir.resolve(relative))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException(relative + " not found above " + Path.of("").toAbsolutePath());
        }
        return dir.resolve(relative);
    }

    public static ZoneSpec read(Path file) throws IOException {
        JsonObject o = Json.createReader(new StringReader(Files.readString(file))).readObject();
        ZoneSpec.Builder b = ZoneSpec.builder(o.getString("name"));
        b.kernel(o.getString("kernel", null)).initramfs(o.getString("initramfs", null))
                .cmdline(o.getString("cmdline", "")).hypervisor(o.getString("hypervisor", null));
        if (o.containsKey("vcpus")) {
            b.vcpus(o.getInt("vcpus"));
        }
        if (o.containsKey("memoryMiB")) {
            b.memoryMiB(o.getInt("memoryMiB"));
        }
        if (o.containsKey("labels")) {
            o.getJsonObject("labels").forEach((k, v) -> b.label(k, ((jakarta.json.JsonString) v).getString()));
        }
        return b.build();
    }
}

package io.zonekeeper.shim;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.ZoneSpec;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonException;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * What a container's OCI runtime spec ({@code config.json} in its bundle) asks of its zone: the process (args, env,
 * cwd, user, terminal), the size from {@code linux.resources}, and the hypervisor from the annotation
 * {@value #HYPERVISOR_ANNOTATION}.
 *
 * <p>Sizing: the zone gets the memory limit plus {@value #GUEST_OVERHEAD_MIB} MiB for its kernel and init, at least
 * {@link ZoneSpec#MIN_MEMORY_MIB}; a container without a memory limit gets {@value #DEFAULT_MEMORY_MIB} MiB. vCPUs are
 * the CPU quota over its period, rounded up (else the number of CPUs in {@code cpus}, else 1), at most
 * {@link ZoneSpec#MAX_VCPUS}.
 */
public record ContainerConfig(ProcessSpec process, int memoryMiB, int vcpus, String hypervisor) {
    public static final String HYPERVISOR_ANNOTATION = "io.zonekeeper.hypervisor";
    public static final int DEFAULT_MEMORY_MIB = 256;
    /**
     * The zone's own part beside the container's limit: the kernel, its initramfs and the init. Debian's kernel alone
     * reaches 74 MiB into guest memory once loaded, and the zone did not boot in less than about 92 MiB; the default
     * zone's 128 MiB is what every lab boots.
     */
    public static final int GUEST_OVERHEAD_MIB = 128;
    /** config.json is read whole; a larger one is refused rather than read. */
    static final long MAX_BYTES = 1 << 20;
    private static final long MIB = 1024 * 1024;

    /** Reads {@code <bundle>/config.json}; every problem is named with the file. */
    public static ContainerConfig read(Path bundle) throws ShimException {
        Path file = bundle.resolve("config.json");
        JsonObject root;
        try {
            long size = Files.size(file);
            if (size > MAX_BYTES) {
                throw new ShimException(ShimException.INVALID, file + " is " + size + " bytes; at most " + MAX_BYTES);
            }
            try (InputStream in = Files.newInputStream(file); JsonReader r = Json.createReader(in)) {
                root = r.readObject();
            }
        } catch (NoSuchFileException e) {
            throw new ShimException(ShimException.INVALID, "the bundle " + bundle + " has no config.json (the OCI "
                    + "runtime spec of the container)");
        } catch (IOException e) {
            throw new ShimException(ShimException.INVALID, "cannot read " + file + ": " + e.getMessage());
        } catch (JsonException | IllegalStateException e) {
            throw new ShimException(ShimException.INVALID, file + " is not a JSON object: " + e.getMessage());
        }
        return of(root, file.toString());
    }

    /** Maps a parsed runtime spec; {@code where} names it in errors. */
    public static ContainerConfig of(JsonObject spec, String where) throws ShimException {
        JsonObject process = object(spec, "process", where);
        if (process == null) {
            throw new ShimException(ShimException.INVALID, where + ": no process to run (field process)");
        }
        ProcessSpec p = ProcessSpec.of(process, where + " process");
        int memory = DEFAULT_MEMORY_MIB;
        int vcpus = 1;
        JsonObject linux = object(spec, "linux", where);
        JsonObject resources = linux == null ? null : object(linux, "resources", where + " linux");
        if (resources != null) {
            JsonObject mem = object(resources, "memory", where + " linux.resources");
            if (mem != null && mem.get("limit") instanceof JsonNumber n && n.longValue() > 0) {
                long mib = (n.longValue() + MIB - 1) / MIB + GUEST_OVERHEAD_MIB;
                if (mib > ZoneSpec.MAX_MEMORY_MIB) {
                    throw new ShimException(ShimException.INVALID, where + ": linux.resources.memory.limit "
                            + n.longValue() + " is over a zone's largest memory, " + ZoneSpec.MAX_MEMORY_MIB + " MiB");
                }
                memory = (int) Math.max(ZoneSpec.MIN_MEMORY_MIB, mib);
            }
            JsonObject cpu = object(resources, "cpu", where + " linux.resources");
            if (cpu != null) {
                vcpus = vcpus(cpu, where);
            }
        }
        String hypervisor = null;
        JsonObject annotations = object(spec, "annotations", where);
        if (annotations != null && annotations.get(HYPERVISOR_ANNOTATION) != null) {
            if (!(annotations.get(HYPERVISOR_ANNOTATION) instanceof JsonString s) || s.getString().isBlank()) {
                throw new ShimException(ShimException.INVALID, where + ": annotation " + HYPERVISOR_ANNOTATION
                        + " must name a hypervisor");
            }
            hypervisor = s.getString();
        }
        return new ContainerConfig(p, memory, vcpus, hypervisor);
    }

    private static int vcpus(JsonObject cpu, String where) throws ShimException {
        long quota = cpu.get("quota") instanceof JsonNumber q ? q.longValue() : -1;
        long period = cpu.get("period") instanceof JsonNumber p ? p.longValue() : 100000;
        long n = 0;
        if (quota > 0 && period > 0) {
            n = (quota + period - 1) / period;
        } else if (cpu.get("cpus") instanceof JsonString set && !set.getString().isBlank()) {
            n = cpuCount(set.getString(), where);
        }
        if (n > ZoneSpec.MAX_VCPUS) {
            throw new ShimException(ShimException.INVALID, where + ": linux.resources.cpu asks for " + n
                    + " CPUs; a zone has at most " + ZoneSpec.MAX_VCPUS);
        }
        return (int) Math.max(1, n);
    }

    /** The number of CPUs in a cpuset list such as {@code 0-3,6}. */
    static long cpuCount(String set, String where) throws ShimException {
        long n = 0;
        for (String part : set.split(",")) {
            String t = part.trim();
            try {
                int dash = t.indexOf('-');
                if (dash < 0) {
                    Integer.parseInt(t);
                    n++;
                } else {
                    int a = Integer.parseInt(t.substring(0, dash));
                    int b = Integer.parseInt(t.substring(dash + 1));
                    if (b < a) {
                        throw new NumberFormatException();
                    }
                    n += b - a + 1L;
                }
            } catch (NumberFormatException e) {
                throw new ShimException(ShimException.INVALID, where + ": linux.resources.cpu.cpus '" + set
                        + "' is not a CPU list such as 0-3,6");
            }
        }
        return n;
    }

    static JsonObject object(JsonObject o, String key, String where) throws ShimException {
        JsonValue v = o.get(key);
        if (v == null || v == JsonValue.NULL) {
            return null;
        }
        if (!(v instanceof JsonObject obj)) {
            throw new ShimException(ShimException.INVALID, where + ": " + key + " must be an object");
        }
        return obj;
    }

    static List<String> strings(JsonObject o, String key, String where) throws ShimException {
        JsonValue v = o.get(key);
        List<String> out = new ArrayList<>();
        if (v == null || v == JsonValue.NULL) {
            return out;
        }
        if (!(v instanceof JsonArray a)) {
            throw new ShimException(ShimException.INVALID, where + ": " + key + " must be a list of strings");
        }
        for (JsonValue e : a) {
            if (!(e instanceof JsonString s)) {
                throw new ShimException(ShimException.INVALID, where + ": " + key + " must be a list of strings");
            }
            out.add(s.getString());
        }
        return out;
    }
}

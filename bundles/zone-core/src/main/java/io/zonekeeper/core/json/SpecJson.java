package io.zonekeeper.core.json;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.WorkloadSpec;
import io.zonekeeper.api.ZoneSpec;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonException;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonParsingException;

/**
 * The zone spec file format: a JSON object whose fields are those of {@link ZoneSpec}. Reading is strict: an
 * unknown field at any depth (a typo such as {@code "memroy"}, or {@code "readOnly"} in a disk) or a value of the
 * wrong type is an error that names the field by its path ({@code disks[0].readOnly}), and every such error is
 * reported at once together with the spec's own validation. The text is held to {@link BoundedJson}'s limits.
 */
public final class SpecJson {
    private static final List<String> FIELDS = List.of("name", "kernel", "initramfs", "cmdline", "vcpus",
            "memoryMiB", "hypervisor", "devices", "channels", "networks", "disks", "labels", "image", "workload");
    private static final List<String> DEVICE_FIELDS = List.of("type", "address");
    private static final List<String> CHANNEL_FIELDS = List.of("name", "peer");
    private static final List<String> NETWORK_FIELDS = List.of("network", "ip");
    private static final List<String> DISK_FIELDS = List.of("path", "format", "readonly");
    private static final List<String> WORKLOAD_FIELDS = List.of("command", "env", "workdir", "user");

    private SpecJson() {
    }

    /** Parses and validates a spec; throws with every broken field named. */
    public static ZoneSpec parse(String text) throws InvalidSpecException {
        JsonObject o;
        try {
            JsonValue v = BoundedJson.read(text);
            if (v.getValueType() != JsonValue.ValueType.OBJECT) {
                throw new InvalidSpecException(List.of(new FieldError("(spec)", "must be a JSON object")));
            }
            o = v.asJsonObject();
        } catch (JsonParsingException e) {
            throw new InvalidSpecException(List.of(new FieldError("(spec)", "is not valid JSON at line "
                    + e.getLocation().getLineNumber() + ", column " + e.getLocation().getColumnNumber() + ": "
                    + e.getMessage())));
        } catch (BoundedJson.LimitExceeded e) {
            throw new InvalidSpecException(List.of(new FieldError("(spec)", e.getMessage())));
        } catch (JsonException e) {
            throw new InvalidSpecException(List.of(new FieldError("(spec)", "is not valid JSON: " + e.getMessage())));
        }
        return fromJson(o).requireValidOr();
    }

    /** Reads and parses a spec file, refusing one too big to be a spec before reading it whole. */
    public static ZoneSpec parseFile(Path file) throws IOException, InvalidSpecException {
        return parse(BoundedJson.readFile(file));
    }

    /** Reads the spec fields of {@code o}; collects type errors and spec errors together. */
    public static Parsed fromJson(JsonObject o) {
        List<FieldError> errors = new ArrayList<>();
        refuseUnknown(o, FIELDS, null, errors);
        ZoneSpec.Builder b = ZoneSpec.builder(string(o, "name", errors));
        b.kernel(string(o, "kernel", errors)).initramfs(string(o, "initramfs", errors))
                .cmdline(string(o, "cmdline", errors)).hypervisor(string(o, "hypervisor", errors));
        Integer vcpus = integer(o, "vcpus", errors);
        if (vcpus != null) {
            b.vcpus(vcpus);
        }
        Integer memory = integer(o, "memoryMiB", errors);
        if (memory != null) {
            b.memoryMiB(memory);
        }
        JsonArray devices = array(o, "devices", errors);
        for (int i = 0; devices != null && i < devices.size(); i++) {
            JsonObject d = element(devices, i, "devices", errors);
            if (d != null) {
                String at = "devices[" + i + "]";
                refuseUnknown(d, DEVICE_FIELDS, at, errors);
                String type = string(d, "type", errors, at);
                b.device(new DeviceSpec(type == null ? DeviceSpec.TYPE_PCI : type, string(d, "address", errors, at)));
            }
        }
        JsonArray channels = array(o, "channels", errors);
        for (int i = 0; channels != null && i < channels.size(); i++) {
            JsonObject c = element(channels, i, "channels", errors);
            if (c != null) {
                String at = "channels[" + i + "]";
                refuseUnknown(c, CHANNEL_FIELDS, at, errors);
                b.channel(new ChannelSpec(string(c, "name", errors, at), string(c, "peer", errors, at)));
            }
        }
        JsonArray networks = array(o, "networks", errors);
        for (int i = 0; networks != null && i < networks.size(); i++) {
            JsonObject n = element(networks, i, "networks", errors);
            if (n != null) {
                String at = "networks[" + i + "]";
                refuseUnknown(n, NETWORK_FIELDS, at, errors);
                b.network(new NetworkAttachment(string(n, "network", errors, at), string(n, "ip", errors, at)));
            }
        }
        JsonArray disks = array(o, "disks", errors);
        for (int i = 0; disks != null && i < disks.size(); i++) {
            JsonObject d = element(disks, i, "disks", errors);
            if (d != null) {
                String at = "disks[" + i + "]";
                refuseUnknown(d, DISK_FIELDS, at, errors);
                String format = string(d, "format", errors, at);
                Boolean ro = bool(d, "readonly", errors, at);
                b.disk(new DiskSpec(string(d, "path", errors, at), format == null ? DiskSpec.FORMAT_RAW : format,
                        ro != null && ro));
            }
        }
        JsonValue labels = o.get("labels");
        if (labels != null && labels.getValueType() != JsonValue.ValueType.NULL) {
            if (labels.getValueType() != JsonValue.ValueType.OBJECT) {
                errors.add(new FieldError("labels", "must be an object of strings"));
            } else {
                for (Map.Entry<String, JsonValue> e : labels.asJsonObject().entrySet()) {
                    if (e.getValue() instanceof JsonString s) {
                        b.label(e.getKey(), s.getString());
                    } else {
                        errors.add(new FieldError("labels." + e.getKey(), "must be a string"));
                    }
                }
            }
        }
        b.image(string(o, "image", errors));
        JsonValue workload = o.get("workload");
        if (workload instanceof JsonObject w) {
            refuseUnknown(w, WORKLOAD_FIELDS, "workload", errors);
            b.workload(new WorkloadSpec(strings(w, "command", errors), strings(w, "env", errors),
                    string(w, "workdir", errors, "workload"), string(w, "user", errors, "workload")));
        } else if (workload != null && workload.getValueType() != JsonValue.ValueType.NULL) {
            errors.add(new FieldError("workload", "must be an object with command, env, workdir, user"));
        }
        return new Parsed(b.build(), errors);
    }

    /** A spec read from JSON together with the type errors met on the way. */
    public record Parsed(ZoneSpec spec, List<FieldError> typeErrors) {
        public ZoneSpec requireValidOr() throws InvalidSpecException {
            List<FieldError> all = new ArrayList<>(typeErrors);
            for (FieldError e : spec.validate()) {
                // A field whose type was wrong is already named; don't name it twice.
                if (all.stream().noneMatch(t -> t.field().equals(e.field()))) {
                    all.add(e);
                }
            }
            if (!all.isEmpty()) {
                throw new InvalidSpecException(all);
            }
            return spec;
        }
    }

    public static JsonObject toJson(ZoneSpec spec) {
        JsonObjectBuilder o = Json.createObjectBuilder().add("name", spec.name());
        if (spec.kernel() != null) {
            o.add("kernel", spec.kernel());
        }
        if (spec.initramfs() != null) {
            o.add("initramfs", spec.initramfs());
        }
        o.add("cmdline", spec.cmdline()).add("vcpus", spec.vcpus()).add("memoryMiB", spec.memoryMiB());
        if (spec.hypervisor() != null) {
            o.add("hypervisor", spec.hypervisor());
        }
        JsonArrayBuilder devices = Json.createArrayBuilder();
        spec.devices().forEach(d -> {
            var device = Json.createObjectBuilder().add("type", d.type());
            if (d.address() != null) {
                device.add("address", d.address());
            }
            devices.add(device);
        });
        JsonArrayBuilder channels = Json.createArrayBuilder();
        spec.channels().forEach(c -> {
            JsonObjectBuilder cb = Json.createObjectBuilder().add("name", c.name());
            if (c.peer() != null) {
                cb.add("peer", c.peer());
            }
            channels.add(cb);
        });
        JsonArrayBuilder networks = Json.createArrayBuilder();
        spec.networks().forEach(n -> {
            JsonObjectBuilder nb = Json.createObjectBuilder().add("network", n.network());
            if (n.ip() != null) {
                nb.add("ip", n.ip());
            }
            networks.add(nb);
        });
        JsonArrayBuilder disks = Json.createArrayBuilder();
        spec.disks().forEach(d -> disks.add(Json.createObjectBuilder().add("path", d.path())
                .add("format", d.format()).add("readonly", d.readOnly())));
        JsonObjectBuilder labels = Json.createObjectBuilder();
        spec.labels().forEach(labels::add);
        o.add("devices", devices).add("channels", channels).add("networks", networks).add("disks", disks)
                .add("labels", labels);
        if (spec.image() != null) {
            o.add("image", spec.image());
        }
        WorkloadSpec w = spec.workload();
        if (!w.isEmpty()) {
            o.add("workload", Json.createObjectBuilder().add("command", Json.createArrayBuilder(w.command()))
                    .add("env", Json.createArrayBuilder(w.env())).add("workdir", w.workdir()).add("user", w.user()));
        }
        return o.build();
    }

    private static String string(JsonObject o, String key, List<FieldError> errors) {
        return string(o, key, errors, null);
    }

    private static String string(JsonObject o, String key, List<FieldError> errors, String prefix) {
        JsonValue v = o.get(key);
        if (v == null || v.getValueType() == JsonValue.ValueType.NULL) {
            return null;
        }
        if (v instanceof JsonString s) {
            return s.getString();
        }
        errors.add(new FieldError(path(prefix, key), "must be a string, not " + v.getValueType().name()
                .toLowerCase()));
        return null;
    }

    /** A list of strings at {@code workload.KEY}; empty when absent. */
    private static List<String> strings(JsonObject o, String key, List<FieldError> errors) {
        JsonValue v = o.get(key);
        List<String> out = new ArrayList<>();
        if (v == null || v.getValueType() == JsonValue.ValueType.NULL) {
            return out;
        }
        if (!(v instanceof JsonArray a)) {
            errors.add(new FieldError("workload." + key, "must be a list of strings"));
            return out;
        }
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) instanceof JsonString s) {
                out.add(s.getString());
            } else {
                errors.add(new FieldError("workload." + key + "[" + i + "]", "must be a string"));
            }
        }
        return out;
    }

    private static Integer integer(JsonObject o, String key, List<FieldError> errors) {
        JsonValue v = o.get(key);
        if (v == null || v.getValueType() == JsonValue.ValueType.NULL) {
            return null;
        }
        if (v instanceof JsonNumber n && n.isIntegral()) {
            try {
                return n.intValueExact();
            } catch (ArithmeticException e) {
                errors.add(new FieldError(key, n + " is too large"));
                return null;
            }
        }
        errors.add(new FieldError(key, "must be a whole number, not " + v));
        return null;
    }

    private static Boolean bool(JsonObject o, String key, List<FieldError> errors, String prefix) {
        JsonValue v = o.get(key);
        if (v == null || v.getValueType() == JsonValue.ValueType.NULL) {
            return null;
        }
        if (v == JsonValue.TRUE || v == JsonValue.FALSE) {
            return v == JsonValue.TRUE;
        }
        errors.add(new FieldError(path(prefix, key), "must be true or false"));
        return null;
    }

    private static JsonArray array(JsonObject o, String key, List<FieldError> errors) {
        JsonValue v = o.get(key);
        if (v == null || v.getValueType() == JsonValue.ValueType.NULL) {
            return null;
        }
        if (v instanceof JsonArray a) {
            return a;
        }
        errors.add(new FieldError(key, "must be a list"));
        return null;
    }

    private static JsonObject element(JsonArray a, int i, String key, List<FieldError> errors) {
        JsonValue v = a.get(i);
        if (v instanceof JsonObject o) {
            return o;
        }
        errors.add(new FieldError(key + "[" + i + "]", "must be an object"));
        return null;
    }

    /**
     * Names every key of {@code o} that is not one of {@code known}: ignoring it would silently drop what the
     * writer meant ({@code "readOnly": true} would give a writable disk).
     */
    private static void refuseUnknown(JsonObject o, List<String> known, String prefix, List<FieldError> errors) {
        for (String key : o.keySet()) {
            if (!known.contains(key)) {
                String hint = known.stream().filter(k -> k.equalsIgnoreCase(key)).findFirst()
                        .map(k -> " (did you mean " + k + "?)").orElse("");
                errors.add(new FieldError(path(prefix, key), "unknown field; known: " + String.join(", ", known)
                        + hint));
            }
        }
    }

    private static String path(String prefix, String key) {
        return prefix == null ? key : prefix + "." + key;
    }
}

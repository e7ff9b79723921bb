package io.zonekeeper.xen.xl;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * Reads what {@code xl list} prints. {@code xl list -l} gives, per domain, its id and the libxl domain config it
 * was created from (the uuid in {@code config.c_info.uuid}); plain {@code xl list} gives the state flags. Pure.
 */
public final class XlList {
    private XlList() {
    }

    /**
     * The domains of {@code xl list -l} JSON output, in the order printed.
     *
     * @throws IllegalArgumentException when the text is not the JSON array xl prints, saying what was wrong
     */
    public static List<Domain> parseLong(String json) {
        String text = json.strip();
        if (text.isEmpty()) {
            return List.of(); // xl prints nothing when it knows no domain configs
        }
        JsonValue v;
        try {
            v = Json.createReader(new StringReader(text)).readValue();
        } catch (JsonException e) {
            throw new IllegalArgumentException("xl list -l did not print JSON: " + e.getMessage(), e);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("xl list -l printed a number out of range: " + e.getMessage(), e);
        } catch (StackOverflowError e) {
            // The object reader recurses once per level; unwound, nothing of it is left. xl never nests this deep.
            throw new IllegalArgumentException("xl list -l printed JSON nested too deep to read");
        }
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw new IllegalArgumentException("xl list -l printed a JSON " + v.getValueType() + ", not an array");
        }
        List<Domain> out = new ArrayList<>();
        for (JsonValue e : v.asJsonArray()) {
            if (e.getValueType() != JsonValue.ValueType.OBJECT) {
                continue;
            }
            JsonObject d = e.asJsonObject();
            if (!d.containsKey("domid") || d.get("domid").getValueType() != JsonValue.ValueType.NUMBER) {
                throw new IllegalArgumentException("xl list -l: an entry has no numeric domid: " + d);
            }
            int domid = d.getInt("domid");
            JsonObject cInfo = object(object(d, "config"), "c_info");
            String name = string(cInfo, "name");
            String type = string(cInfo, "type");
            Optional<UUID> uuid = Optional.empty();
            String u = string(cInfo, "uuid");
            if (!u.isEmpty()) {
                try {
                    uuid = Optional.of(UUID.fromString(u));
                } catch (IllegalArgumentException notAUuid) {
                    // left empty: such a domain cannot prove it is a zone
                }
            }
            out.add(new Domain(domid, name, uuid, type, null));
        }
        return out;
    }

    /** The state flags by domain id, from plain {@code xl list}: the header line, then one line per domain. */
    public static Map<Integer, String> parseFlags(String table) {
        Map<Integer, String> out = new LinkedHashMap<>();
        for (String line : table.split("\n")) {
            String[] w = line.trim().split("\\s+");
            // Name may hold spaces, so count from the right: ID Mem VCPUs State Time(s)
            if (w.length < 6) {
                continue;
            }
            String id = w[w.length - 5];
            String flags = w[w.length - 2];
            // Xen's domain ids stay below 32768: more digits than an int holds is not a domain line either.
            if (!id.matches("\\d{1,9}") || !flags.matches("[-rbpscd]{6}")) {
                continue; // the header, or a line xl added that is not a domain
            }
            out.put(Integer.parseInt(id), flags);
        }
        return out;
    }

    /** The domains of {@code xl list -l} with the flags of {@code xl list} where a domain is in both. */
    public static List<Domain> merge(List<Domain> domains, Map<Integer, String> flags) {
        List<Domain> out = new ArrayList<>();
        for (Domain d : domains) {
            out.add(d.withFlags(flags.get(d.domid())));
        }
        return out;
    }

    private static JsonObject object(JsonObject o, String key) {
        if (o == null || !o.containsKey(key) || o.get(key).getValueType() != JsonValue.ValueType.OBJECT) {
            return null;
        }
        return o.getJsonObject(key);
    }

    private static String string(JsonObject o, String key) {
        if (o == null || !o.containsKey(key) || o.get(key).getValueType() != JsonValue.ValueType.STRING) {
            return "";
        }
        return o.getString(key);
    }
}

package io.zonekeeper.network;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.network.ipv4.Cidr;
import io.zonekeeper.network.ipv6.Ula;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;

/** One JSON file per network, written atomically (temp file, fsync, rename), so a crash leaves old or new. */
final class NetworkStore {
    private final Path dir;

    NetworkStore(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    Path file(String name) {
        return dir.resolve(name + ".json");
    }

    /** Every readable network; {@code problems} gets a line for each file that is not. */
    List<NetworkRecord> loadAll(List<String> problems) throws IOException {
        List<NetworkRecord> all = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return all;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path f : ds) {
                try {
                    all.add(parse(Files.readString(f, StandardCharsets.UTF_8)));
                } catch (RuntimeException e) {
                    problems.add(f + " is unreadable: " + e.getMessage());
                }
            }
        }
        return all;
    }

    void write(NetworkRecord n) throws IOException {
        AtomicFiles.writeString(file(n.name()), toJson(n).toString());
    }

    void delete(String name) throws IOException {
        AtomicFiles.delete(file(name));
    }

    static JsonObject toJson(NetworkRecord n) {
        JsonArrayBuilder leases = Json.createArrayBuilder();
        for (Lease l : n.leases()) {
            JsonObjectBuilder b = Json.createObjectBuilder().add("zone", l.zone()).add("zoneId", l.zoneId().toString())
                    .add("ip", l.ip());
            if (l.ip6() != null) {
                b.add("ip6", l.ip6());
            }
            leases.add(b.add("mac", l.mac()).add("tap", l.tap()));
        }
        JsonObjectBuilder b = Json.createObjectBuilder().add("name", n.name()).add("id", n.id().toString())
                .add("subnet", n.subnet().toString());
        if (n.ipv6() != null) {
            b.add("ipv6", n.ipv6().toString());
        }
        b.add("nat", n.nat());
        if (n.uplink() != null) {
            b.add("uplink", n.uplink());
        }
        if (!n.uplinks().isEmpty()) {
            JsonArrayBuilder u = Json.createArrayBuilder();
            n.uplinks().forEach(x -> u.add(Json.createObjectBuilder().add("name", x.name())
                    .add("forwardingBefore", x.forwardingBefore())));
            b.add("uplinks", u);
        }
        return b.add("bridge", n.bridge()).add("created", n.created().toString())
                .add("leases", leases).build();
    }

    /**
     * Reads a record; {@code id}, {@code ipv6}, {@code uplink}, {@code uplinks} and a lease's {@code ip6} are absent
     * in records of older versions.
     */
    static NetworkRecord parse(String json) {
        JsonObject o;
        try (JsonReader r = Json.createReader(new StringReader(json))) {
            o = r.readObject();
        }
        List<Lease> leases = new ArrayList<>();
        for (JsonObject l : o.getJsonArray("leases").getValuesAs(JsonObject.class)) {
            leases.add(new Lease(l.getString("zone"), UUID.fromString(l.getString("zoneId")), l.getString("ip"),
                    l.getString("ip6", null), l.getString("mac"), l.getString("tap")));
        }
        String name = o.getString("name");
        Instant created = Instant.parse(o.getString("created"));
        UUID id = o.containsKey("id") ? UUID.fromString(o.getString("id")) : NetworkRecord.legacyId(name, created);
        Ula ipv6 = o.containsKey("ipv6") ? Ula.parse(o.getString("ipv6")) : null;
        List<Uplink> uplinks = new ArrayList<>();
        if (o.containsKey("uplinks")) {
            for (JsonObject u : o.getJsonArray("uplinks").getValuesAs(JsonObject.class)) {
                uplinks.add(new Uplink(u.getString("name"), u.getString("forwardingBefore")));
            }
        }
        return new NetworkRecord(name, id, Cidr.parse(o.getString("subnet")), ipv6, o.getBoolean("nat"),
                o.getString("uplink", null), uplinks, o.getString("bridge"), created, leases);
    }
}

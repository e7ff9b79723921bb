package io.zonekeeper.passthrough;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.JsonWriter;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.passthrough.ReconcileReport.Action;
import io.zonekeeper.passthrough.ReconcileReport.Outcome;
import io.zonekeeper.passthrough.bind.Binding;
import io.zonekeeper.passthrough.bind.DeviceBinder;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.spi.DeviceBackend;

/**
 * Which endpoint belongs to which zone, and what driver it had before: a JSON file that survives a crash of the
 * JVM. Every change is written atomically (temporary file, fsync, rename, fsync of the folder), so the file is
 * always the old or the new ledger, never half of one. A device is never in two zones: a zone is its id, so a zone
 * destroyed and created again under the same name does not inherit the devices of the old one.
 *
 * <p>A ledger that cannot be read is left untouched and reported: it is the only record of which drivers to give
 * the devices back to.
 */
public final class AssignmentLedger {
    /** The ledger's file name, in the pci backend's folder under the state directory. */
    public static final String FILE_NAME = "assignments.json";
    private static final int VERSION = 2;

    private final Path file;
    private final PciInventory inventory;
    private final DeviceBinder binder;
    private final Map<PciAddress, Assignment> entries = new TreeMap<>();

    /**
     * Reads the ledger, or starts an empty one when the file does not exist. Nothing is written until the first
     * change.
     *
     * @throws PassthroughException the file exists but cannot be read or is not a ledger
     */
    public AssignmentLedger(Path file, PciInventory inventory, DeviceBinder binder) throws PassthroughException {
        this.file = file;
        this.inventory = inventory;
        this.binder = binder;
        load();
    }

    /** {@code <state>/devices/pci/assignments.json}, where the pci device backend keeps its records. */
    public static Path fileIn(Path stateDirectory) {
        return DeviceBackend.stateDirectory(stateDirectory, "pci").resolve(FILE_NAME);
    }

    public static AssignmentLedger inStateDirectory(Path stateDirectory, PciInventory inventory, DeviceBinder binder)
            throws PassthroughException {
        return new AssignmentLedger(fileIn(stateDirectory), inventory, binder);
    }

    public Path file() {
        return file;
    }

    public synchronized Optional<ZoneRef> owner(PciAddress address) {
        return Optional.ofNullable(entries.get(address)).map(Assignment::zone);
    }

    public synchronized List<Assignment> all() {
        return List.copyOf(entries.values());
    }

    public synchronized List<Assignment> ofZone(UUID zone) {
        return entries.values().stream().filter(a -> a.zone().id().equals(zone)).toList();
    }

    /** The zones that hold devices, by id, each with the name it had when it took them. */
    public synchronized Map<UUID, ZoneRef> zones() {
        Map<UUID, ZoneRef> zones = new LinkedHashMap<>();
        entries.values().forEach(a -> zones.putIfAbsent(a.zone().id(), a.zone()));
        return zones;
    }

    /**
     * Writes down that the zone holds these endpoints. An endpoint the zone holds already keeps its entry (its
     * original driver is the one from before the zone first took it).
     *
     * @return the endpoints that were not the zone's before
     * @throws PassthroughException an endpoint belongs to another zone (nothing is written then), or the file
     *                              cannot be written
     */
    public synchronized List<PciAddress> record(ZoneRef zone, List<Binding> bindings) throws PassthroughException {
        for (Binding binding : bindings) {
            Assignment held = entries.get(binding.address());
            if (held != null && !held.zone().id().equals(zone.id())) {
                throw new PassthroughException(binding.address() + " is already held by zone " + held.zone().name()
                        + "; a device is never in two zones: release it there first");
            }
        }
        List<PciAddress> added = new ArrayList<>();
        Map<PciAddress, Assignment> before = new TreeMap<>(entries);
        for (Binding binding : bindings) {
            if (!entries.containsKey(binding.address())) {
                entries.put(binding.address(), new Assignment(zone, binding));
                added.add(binding.address());
            }
        }
        saveOrRevert(before);
        return added;
    }

    /** Removes the endpoints from the ledger. */
    public synchronized void forget(Collection<PciAddress> addresses) throws PassthroughException {
        Map<PciAddress, Assignment> before = new TreeMap<>(entries);
        if (entries.keySet().removeAll(addresses)) {
            saveOrRevert(before);
        }
    }

    /**
     * After a restart: the endpoints of zones that run stay as they are; those of any other zone go back to their
     * original drivers and out of the ledger. Each zone's endpoints are released together, so a zone whose
     * release fails keeps its whole group, and says so in the report.
     */
    public synchronized ReconcileReport reconcile(Set<UUID> runningZones) throws PassthroughException {
        List<Action> actions = new ArrayList<>();
        Map<ZoneRef, List<Assignment>> byZone = new LinkedHashMap<>();
        for (Assignment a : entries.values()) {
            byZone.computeIfAbsent(a.zone(), z -> new ArrayList<>()).add(a);
        }
        for (Map.Entry<ZoneRef, List<Assignment>> zone : byZone.entrySet()) {
            String name = zone.getKey().name();
            if (runningZones.contains(zone.getKey().id())) {
                for (Assignment a : zone.getValue()) {
                    actions.add(new Action(a.address(), name, Outcome.KEPT, "zone runs"));
                }
                continue;
            }
            List<Binding> present = new ArrayList<>();
            List<PciAddress> gone = new ArrayList<>();
            for (Assignment a : zone.getValue()) {
                if (Files.isDirectory(inventory.deviceDir(a.address()))) {
                    present.add(a.binding());
                } else {
                    gone.add(a.address());
                    actions.add(new Action(a.address(), name, Outcome.DEVICE_GONE, "not on the PCI bus any more"));
                }
            }
            forget(gone);
            if (present.isEmpty()) {
                continue;
            }
            List<Restoration> restored;
            try {
                restored = binder.release(present);
            } catch (PassthroughException e) {
                for (Binding b : present) {
                    actions.add(new Action(b.address(), name, Outcome.FAILED, e.getMessage()));
                }
                continue;
            }
            forget(present.stream().map(Binding::address).toList());
            for (Restoration r : restored) {
                actions.add(new Action(r.address(), name, r.restored() ? Outcome.RESTORED : Outcome.NOT_RESTORED,
                        "zone is not running; " + r));
            }
        }
        actions.sort((x, y) -> x.address().compareTo(y.address()));
        return new ReconcileReport(actions);
    }

    private void saveOrRevert(Map<PciAddress, Assignment> before) throws PassthroughException {
        try {
            save();
        } catch (IOException e) {
            entries.clear();
            entries.putAll(before);
            throw new PassthroughException("cannot write the assignment ledger " + file + ": " + e.getMessage()
                    + "; nothing was changed", e);
        }
    }

    private void load() throws PassthroughException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw unreadable(e.getMessage(), e);
        }
        try (JsonReader reader = Json.createReader(new StringReader(text))) {
            JsonObject root = reader.readObject();
            if (root.getInt("version", -1) != VERSION) {
                throw unreadable("it is not a version " + VERSION + " ledger", null);
            }
            for (JsonValue value : root.getJsonArray("assignments")) {
                JsonObject o = value.asJsonObject();
                ZoneRef zone = new ZoneRef(UUID.fromString(o.getString("zoneId")), o.getString("zone"));
                PciAddress address = PciAddress.parse(o.getString("address"));
                if (entries.containsKey(address)) {
                    throw unreadable(address + " is in it twice", null);
                }
                entries.put(address, new Assignment(zone, new Binding(address, optional(o, "originalDriver"),
                        optional(o, "originalOverride"))));
            }
        } catch (JsonException | ClassCastException | NullPointerException | IllegalArgumentException e) {
            throw unreadable(e.getMessage(), e);
        }
    }

    private PassthroughException unreadable(String why, Exception cause) {
        return new PassthroughException("the assignment ledger " + file + " cannot be read (" + why + "); it is "
                + "left as it is, since it records which drivers the devices go back to: repair it or move it "
                + "away", cause);
    }

    private static Optional<String> optional(JsonObject o, String key) {
        JsonValue v = o.get(key);
        return v instanceof JsonString s ? Optional.of(s.getString()) : Optional.empty();
    }

    private void save() throws IOException {
        JsonArrayBuilder list = Json.createArrayBuilder();
        for (Assignment a : entries.values()) {
            JsonObjectBuilder o = Json.createObjectBuilder().add("address", a.address().toString())
                    .add("zone", a.zone().name()).add("zoneId", a.zone().id().toString());
            Binding b = a.binding();
            b.originalDriver().ifPresentOrElse(d -> o.add("originalDriver", d), () -> o.addNull("originalDriver"));
            b.originalOverride().ifPresentOrElse(d -> o.add("originalOverride", d),
                    () -> o.addNull("originalOverride"));
            list.add(o);
        }
        StringWriter text = new StringWriter();
        try (JsonWriter writer = Json.createWriter(text)) {
            writer.writeObject(Json.createObjectBuilder().add("version", VERSION).add("assignments", list).build());
        }
        AtomicFiles.writeString(file, text + "\n");
    }
}

package io.zonekeeper.passthrough.shell;

import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonWriter;
import jakarta.json.JsonWriterFactory;
import jakarta.json.stream.JsonGenerator;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.ZoneRef;
import io.zonekeeper.passthrough.pci.GroupViability;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciDevice;
import io.zonekeeper.passthrough.pci.Verdict;

/** What {@code device:list} shows: each device with its verdict, as a table for people or JSON for scripts. */
final class DeviceTable {
    record Row(PciDevice device, Verdict verdict, Optional<ZoneRef> zone) {
    }

    private DeviceTable() {
    }

    static List<Row> rows(List<PciDevice> devices, GroupViability viability,
            java.util.function.Function<PciAddress, Optional<ZoneRef>> owners) throws PassthroughException {
        List<Row> rows = new ArrayList<>();
        for (PciDevice device : devices) {
            rows.add(new Row(device, viability.assessAlone(device.address()), owners.apply(device.address())));
        }
        return rows;
    }

    static String text(List<Row> rows, boolean available) {
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"BDF", "ID", "CLASS", "DRIVER", "GROUP", "GPU", "NUMA", "RESET", "ZONE",
            "ASSIGNABLE"});
        for (Row row : rows) {
            PciDevice d = row.device();
            Verdict v = row.verdict();
            lines.add(new String[] {d.address().toString(), d.vendorDevice(), d.classHex(), d.driverName(),
                d.iommuGroup().isPresent() ? Integer.toString(d.iommuGroup().getAsInt()) : "-",
                d.isGpu() ? "GPU" : "", d.numaNode() < 0 ? "-" : Integer.toString(d.numaNode()),
                d.resetMethods().isEmpty() ? "-" : String.join(",", d.resetMethods()),
                row.zone().map(ZoneRef::name).orElse("-"), !available ? "no: the IOMMU is off"
                        : (v.assignable() ? "yes" : "no") + (v.reason().isEmpty() ? "" : ": " + v.reason())});
        }
        int[] widths = new int[lines.get(0).length];
        for (String[] line : lines) {
            for (int i = 0; i < line.length; i++) {
                widths[i] = Math.max(widths[i], line[i].length());
            }
        }
        StringBuilder out = new StringBuilder();
        if (!available) {
            // Said once here rather than on every row.
            out.append(rows.isEmpty() ? "The IOMMU is off: no device can be assigned.\n"
                    : "No device can be assigned: " + rows.get(0).verdict().reason() + ".\n");
        }
        for (String[] line : lines) {
            StringBuilder l = new StringBuilder();
            for (int i = 0; i < line.length; i++) {
                l.append(i == line.length - 1 ? line[i] : String.format("%-" + widths[i] + "s  ", line[i]));
            }
            out.append(l.toString().stripTrailing()).append('\n');
        }
        return out.toString();
    }

    static String json(List<Row> rows, boolean available) {
        JsonArrayBuilder devices = Json.createArrayBuilder();
        for (Row row : rows) {
            PciDevice d = row.device();
            JsonObjectBuilder o = Json.createObjectBuilder().add("address", d.address().toString())
                    .add("vendor", String.format("%04x", d.vendor())).add("device", String.format("%04x", d.device()))
                    .add("class", d.classHex());
            d.driver().ifPresentOrElse(n -> o.add("driver", n), () -> o.addNull("driver"));
            if (d.iommuGroup().isPresent()) {
                o.add("iommuGroup", d.iommuGroup().getAsInt());
            } else {
                o.addNull("iommuGroup");
            }
            JsonArrayBuilder resets = Json.createArrayBuilder();
            d.resetMethods().forEach(resets::add);
            o.add("resetMethods", resets).add("numaNode", d.numaNode()).add("gpu", d.isGpu())
                    .add("bridge", d.isBridge());
            row.zone().ifPresentOrElse(z -> o.add("zone", z.name()).add("zoneId", z.id().toString()),
                    () -> o.addNull("zone"));
            JsonArrayBuilder group = Json.createArrayBuilder();
            row.verdict().endpoints().forEach(e -> group.add(e.toString()));
            o.add("assignable", row.verdict().assignable()).add("reason", row.verdict().reason())
                    .add("takesTogether", group);
            devices.add(o);
        }
        StringWriter text = new StringWriter();
        JsonWriterFactory factory = Json.createWriterFactory(Map.of(JsonGenerator.PRETTY_PRINTING, true));
        try (JsonWriter writer = factory.createWriter(text)) {
            writer.writeObject(Json.createObjectBuilder().add("iommuEnabled", available)
                    .add("devices", devices).build());
        }
        return text.toString().strip() + "\n";
    }
}

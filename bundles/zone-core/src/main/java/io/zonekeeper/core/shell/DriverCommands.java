package io.zonekeeper.core.shell;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import java.time.Duration;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.core.BundleDiagnosis;
import io.zonekeeper.core.DriverUpgrader;
import io.zonekeeper.core.DriverView;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.spi.Capabilities;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;

/** The {@code driver:} shell commands. */
@Component(service = DriverCommands.class)
@GogoCommand(scope = "driver", function = { "list", "info", "upgrade", "rollback" })
public class DriverCommands {

    @Reference
    ZoneRegistry zones;
    private BundleContext context;

    @Activate
    void activate(BundleContext context) {
        this.context = context;
    }

    @Descriptor("Replace a driver bundle in place while its zones keep running; rolls back if the new one fails")
    public String upgrade(
            @Descriptor("seconds to wait for the new driver") @Parameter(names = "--timeout", absentValue = "30") int timeout,
            @Descriptor("driver type, e.g. kvm") String type,
            @Descriptor("bundle jar path, or group:artifact:version from the driver repository") String source)
            throws ZoneException {
        return new DriverUpgrader(context, zones, Duration.ofSeconds(timeout)).upgrade(type, source,
                System.out::println).describe();
    }

    @Descriptor("Go back to the driver version before the last upgrade")
    public String rollback(
            @Descriptor("seconds to wait for the old driver") @Parameter(names = "--timeout", absentValue = "30") int timeout,
            @Descriptor("driver type, e.g. kvm") String type) throws ZoneException {
        return new DriverUpgrader(context, zones, Duration.ofSeconds(timeout)).rollback(type, System.out::println)
                .describe();
    }

    @Descriptor("List the bound hypervisor drivers")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json) {
        List<DriverView> drivers = zones.drivers();
        if (json) {
            JsonArrayBuilder a = Json.createArrayBuilder();
            drivers.forEach(d -> a.add(toJson(d)));
            if (context != null) {
                for (BundleDiagnosis.Unresolved u : BundleDiagnosis.unresolved(context)) {
                    JsonArrayBuilder missing = Json.createArrayBuilder();
                    u.missing().forEach(missing::add);
                    a.add(Json.createObjectBuilder().add("type", "(unresolved bundle)").add("bundle", u.symbolicName())
                            .add("version", u.version()).add("location", u.location()).add("active", false)
                            .add("missing", missing));
                }
            }
            return a.build().toString();
        }
        String problems = unresolvedBundles();
        if (drivers.isEmpty()) {
            return ("no hypervisor driver is bound\n" + problems).stripTrailing();
        }
        Table t = new Table("TYPE", "BUNDLE", "VERSION", "ACTIVE", "ZONES", "FEATURES");
        for (DriverView d : drivers) {
            t.row(d.type(), d.bundle(), d.version(), d.refused() ? "refused" : d.active() ? "yes" : "standby",
                    d.refused() ? 0 : zonesOf(d.type()).size(),
                    d.capabilities().features().stream().map(Enum::name).sorted().collect(Collectors.joining(",")));
        }
        StringBuilder refusals = new StringBuilder();
        drivers.stream().filter(DriverView::refused).forEach(d -> refusals.append("\ndriver ").append(d.type())
                .append(" of ").append(d.bundle()).append(' ').append(d.version()).append(" is not bound: ")
                .append(d.refusal()));
        return (t.toString() + refusals + problems).stripTrailing();
    }

    /** Bundles (say, dropped into deploy/) that could not resolve, each with the requirements it lacks. */
    private String unresolvedBundles() {
        if (context == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        for (BundleDiagnosis.Unresolved u : BundleDiagnosis.unresolved(context)) {
            sb.append("\nbundle ").append(u.symbolicName()).append(' ').append(u.version()).append(" (")
                    .append(u.location()).append(") cannot resolve, so it is not running:\n");
            u.missing().forEach(m -> sb.append("  missing ").append(m).append('\n'));
        }
        return sb.toString();
    }

    @Descriptor("Show a driver: its version, capabilities, self-test results and zones")
    public String info(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("driver type, e.g. kvm") String type) throws ZoneException {
        DriverView d = zones.drivers().stream().filter(x -> x.type().equals(type) && x.active())
                .findFirst().orElseThrow(() -> new ZoneException("no driver of type '" + type
                        + "' is bound; driver:list shows the bound drivers"));
        if (json) {
            return toJson(d).toString();
        }
        StringBuilder sb = new StringBuilder();
        zones.drivers().stream().filter(x -> x.type().equals(type) && x.refused()).forEach(x -> sb.append(
                String.format("%-20s %s %s: %s%n", "refused", x.bundle(), x.version(), x.refusal())));
        Capabilities c = d.capabilities();
        sb.append(String.format("%-20s %s%n", "type", d.type()));
        sb.append(String.format("%-20s %s %s%n", "bundle", d.bundle(), d.version()));
        sb.append(String.format("%-20s %s%n", "features", c.features().stream().map(Enum::name).sorted()
                .collect(Collectors.joining(", "))));
        sb.append(String.format("%-20s %d%n", "max vcpus", c.maxVcpus()));
        sb.append(String.format("%-20s %d MiB%n", "max memory", c.maxMemoryMiB()));
        for (Map.Entry<String, String> e : c.details().entrySet()) {
            sb.append(String.format("%-20s %s%n", e.getKey(), e.getValue()));
        }
        sb.append(String.format("%-20s %s%n", "zones", zonesOf(type).stream().map(ZoneInfo::name)
                .collect(Collectors.joining(", "))));
        return sb.toString().stripTrailing();
    }

    private List<ZoneInfo> zonesOf(String type) {
        return zones.list().stream().filter(z -> type.equals(z.driver()) && z.state().isActive()).toList();
    }

    private JsonObject toJson(DriverView d) {
        JsonArrayBuilder features = Json.createArrayBuilder();
        d.capabilities().features().stream().map(Enum::name).sorted().forEach(features::add);
        JsonObjectBuilder details = Json.createObjectBuilder();
        d.capabilities().details().forEach(details::add);
        JsonArrayBuilder zs = Json.createArrayBuilder();
        zonesOf(d.type()).forEach(z -> zs.add(z.name()));
        return Json.createObjectBuilder().add("type", d.type()).add("bundle", d.bundle()).add("version", d.version())
                .add("active", d.active()).add("features", features).add("maxVcpus", d.capabilities().maxVcpus())
                .add("maxMemoryMiB", d.capabilities().maxMemoryMiB()).add("details", details).add("zones", zs)
                .add("refusal", d.refused() ? Json.createValue(d.refusal()) : JsonValue.NULL).build();
    }
}

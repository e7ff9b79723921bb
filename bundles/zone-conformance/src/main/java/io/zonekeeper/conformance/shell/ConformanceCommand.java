package io.zonekeeper.conformance.shell;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.conformance.ConformanceReport;
import io.zonekeeper.conformance.DriverConformance;
import io.zonekeeper.conformance.Scenario;

/**
 * {@code driver:conformance TYPE}: the conformance kit inside a running appliance, for hosts where Pax Exam cannot
 * run (a dom0 in a Xen lab, a vendor's test machine). It prints each step and a PASS, FAIL or SKIP line per
 * scenario, and fails (a non-zero exit through {@code bin/zonekeeper -c}) when a scenario fails.
 */
@Component(service = ConformanceCommand.class)
@GogoCommand(scope = "driver", function = { "conformance" })
public class ConformanceCommand {

    @Reference
    ZoneManager zones;
    private BundleContext context;

    @Activate
    void activate(BundleContext context) {
        this.context = context;
    }

    @Descriptor("Run the driver conformance kit against a bound driver: a PASS/FAIL/SKIP line per scenario")
    public String conformance(
            @Descriptor("take the spec template from this stored zone (zone:create --spec FILE makes one)") @Parameter(names = "--like", absentValue = "") String like,
            @Descriptor("kernel image path (default: the driver's)") @Parameter(names = "--kernel", absentValue = "") String kernel,
            @Descriptor("initramfs path (default: the driver's zone image)") @Parameter(names = "--initramfs", absentValue = "") String initramfs,
            @Descriptor("extra kernel command line") @Parameter(names = "--cmdline", absentValue = "") String cmdline,
            @Descriptor("number of vCPUs") @Parameter(names = "--vcpus", absentValue = "") String vcpus,
            @Descriptor("memory in MiB") @Parameter(names = "--memory", absentValue = "") String memory,
            @Descriptor("comma-separated labels KEY=VALUE of the template") @Parameter(names = "--labels", absentValue = "") String labels,
            @Descriptor("text the guest prints when it is up; {name} is the zone's name (default: none, RUNNING is up)") @Parameter(names = "--marker", absentValue = "") String marker,
            @Descriptor("seconds a guest may take to boot (default 120)") @Parameter(names = "--timeout", absentValue = "120") int timeout,
            @Descriptor("grace of each stop in seconds (default 30)") @Parameter(names = "--grace", absentValue = "30") int grace,
            @Descriptor("jar to update the driver bundle to (default: its own jar again)") @Parameter(names = "--upgrade-to", absentValue = "") String upgradeTo,
            @Descriptor("comma-separated labels KEY=VALUE the driver must refuse, naming labels.KEY") @Parameter(names = "--refuse-label", absentValue = "") String refuse,
            @Descriptor("kernel command line words that make the guest power itself off (guest-powers-off)") @Parameter(names = "--poweroff-cmdline", absentValue = "") String powerOff,
            @Descriptor("kernel command line words that make the guest's kernel crash (guest-death without a pid)") @Parameter(names = "--crash-cmdline", absentValue = "") String crash,
            @Descriptor("comma-separated scenarios to run (default: all)") @Parameter(names = "--only", absentValue = "") String only,
            @Descriptor("driver type, e.g. kvm or xen") String type) throws Exception {
        ZoneSpec.Builder template;
        if (!like.isEmpty()) {
            ZoneInfo z = zones.get(like).orElseThrow(() -> new IllegalArgumentException("--like: no zone named '"
                    + like + "'"));
            template = z.spec().toBuilder();
        } else {
            template = ZoneSpec.builder("template");
        }
        if (!kernel.isEmpty()) {
            template.kernel(kernel);
        }
        if (!initramfs.isEmpty()) {
            template.initramfs(initramfs);
        }
        if (!cmdline.isEmpty()) {
            template.cmdline(cmdline);
        }
        if (!vcpus.isEmpty()) {
            template.vcpus(number("--vcpus", vcpus));
        }
        if (!memory.isEmpty()) {
            template.memoryMiB(number("--memory", memory));
        }
        for (String[] kv : pairs("--labels", labels)) {
            template.label(kv[0], kv[1]);
        }
        DriverConformance kit = DriverConformance.forDriver(type).spec(template.build()).readyMarker(marker)
                .bootTimeout(Duration.ofSeconds(timeout)).stopGrace(Duration.ofSeconds(grace))
                .progress(System.out::println).guestPowersOffWith(powerOff).guestCrashesWith(crash);
        if (!upgradeTo.isEmpty()) {
            Path jar = Path.of(upgradeTo);
            if (!Files.isRegularFile(jar)) {
                throw new IllegalArgumentException("--upgrade-to: " + upgradeTo + " is not a file");
            }
            kit.upgradeTo(jar);
        }
        for (String[] kv : pairs("--refuse-label", refuse)) {
            kit.refusesLabel(kv[0], kv[1]);
        }
        List<Scenario> scenarios = new ArrayList<>();
        if (only.isEmpty()) {
            scenarios.addAll(DriverConformance.standardScenarios());
        } else {
            for (String name : only.split(",")) {
                Optional<Scenario> s = DriverConformance.standardScenario(name.trim());
                scenarios.add(s.orElseThrow(() -> new IllegalArgumentException("--only: no scenario '" + name.trim()
                        + "'; there are " + DriverConformance.standardScenarios().stream().map(Scenario::name)
                                .toList())));
            }
        }
        ConformanceReport report = kit.run(context, zones, scenarios);
        if (!report.passed()) {
            throw new IllegalStateException("driver " + type + " does not conform: " + report.summary());
        }
        return report.summary();
    }

    private static int number(String option, String value) {
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": '" + value + "' is not a number");
        }
    }

    private static List<String[]> pairs(String option, String list) {
        List<String[]> out = new ArrayList<>();
        for (String item : list.split(",")) {
            if (item.isBlank()) {
                continue;
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(option + ": '" + item + "' must be KEY=VALUE");
            }
            out.add(new String[] { item.substring(0, eq).trim(), item.substring(eq + 1).trim() });
        }
        return out;
    }
}

package io.zonekeeper.core.shell;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.InvalidSpecException;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.core.ZoneRegistry;
import io.zonekeeper.core.json.SpecJson;
import io.zonekeeper.guest.WorkloadLog;
import io.zonekeeper.hostio.CappedLog;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.hostio.GuestText;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;

/** The {@code zone:} shell commands. Each failure says what was wrong and changes nothing. */
@Component(service = ZoneCommands.class)
@GogoCommand(scope = "zone", function = { "create", "start", "stop", "destroy", "list", "info", "console", "logs",
        "wait", "pause", "resume" })
public class ZoneCommands {
    private static final int ESCAPE = 0x1d; // Ctrl-]
    /** How much of a console log zone:logs shows and zone:wait --console reads a step: a guest may write gigabytes. */
    static final int LOGS_TAIL = 1 << 20;

    @Reference
    ZoneRegistry zones;

    @Descriptor("Create a zone from a spec file or from options; it is stored DEFINED and not started unless --start")
    public String create(
            @Descriptor("zone spec file (JSON)") @Parameter(names = { "-f", "--spec" }, absentValue = "") String specFile,
            @Descriptor("kernel image path (default: the driver's)") @Parameter(names = "--kernel", absentValue = "") String kernel,
            @Descriptor("initramfs path (default: the driver's zone image)") @Parameter(names = "--initramfs", absentValue = "") String initramfs,
            @Descriptor("extra kernel command line") @Parameter(names = "--cmdline", absentValue = "") String cmdline,
            @Descriptor("number of vCPUs") @Parameter(names = "--vcpus", absentValue = "") String vcpus,
            @Descriptor("memory in MiB") @Parameter(names = "--memory", absentValue = "") String memory,
            @Descriptor("hypervisor type: kvm, xen, ...") @Parameter(names = "--hypervisor", absentValue = "") String hypervisor,
            @Descriptor("comma-separated channel names, each NAME or NAME@PEERZONE") @Parameter(names = "--channels", absentValue = "") String channels,
            @Descriptor("comma-separated labels KEY=VALUE") @Parameter(names = "--labels", absentValue = "") String labels,
            @Descriptor("comma-separated networks, each NETWORK or NETWORK=IP") @Parameter(names = "--networks", absentValue = "") String networks,
            @Descriptor("comma-separated disk images, each PATH[:qcow2][:ro] (raw and read-write by default)") @Parameter(names = "--disks", absentValue = "") String disks,
            @Descriptor("an image of the image store as the zone's root (image:list); then also [--env K=V]..."
                    + " [--workdir DIR] [--user USER] before NAME, and -- CMD ARGS... after it, replacing the image's Cmd")
            @Parameter(names = "--image", absentValue = "") String image,
            @Descriptor("start it right away") @Parameter(names = "--start", presentValue = "true", absentValue = "false") boolean start,
            @Descriptor("print the zone as JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("zone name (optional with --spec)") String... words) throws Exception {
        CreateWords cw = CreateWords.parse(words);
        String[] name = cw.names().toArray(String[]::new);
        ZoneSpec.Builder b;
        if (!specFile.isEmpty()) {
            Path file = Path.of(specFile);
            if (!Files.isRegularFile(file)) {
                throw new ZoneException("spec file " + specFile + " does not exist or is not a file");
            }
            ZoneSpec fromFile = SpecJson.parseFile(file);
            b = fromFile.toBuilder();
        } else {
            if (name.length == 0) {
                throw new ZoneException("usage: zone:create [--spec FILE] [options] NAME (a name or a spec file is "
                        + "required; zone:create --help lists the options)");
            }
            b = ZoneSpec.builder(name[0]);
        }
        if (name.length > 1) {
            throw new ZoneException("zone:create takes one zone name, got " + String.join(" ", name));
        }
        if (name.length == 1) {
            b.name(name[0]);
        }
        if (!kernel.isEmpty()) {
            b.kernel(kernel);
        }
        if (!initramfs.isEmpty()) {
            b.initramfs(initramfs);
        }
        if (!cmdline.isEmpty()) {
            b.cmdline(cmdline);
        }
        if (!vcpus.isEmpty()) {
            b.vcpus(number("--vcpus", vcpus));
        }
        if (!memory.isEmpty()) {
            b.memoryMiB(number("--memory", memory));
        }
        if (!hypervisor.isEmpty()) {
            b.hypervisor(hypervisor);
        }
        for (String c : split(channels)) {
            int at = c.indexOf('@');
            b.channel(at < 0 ? ChannelSpec.toHost(c) : new ChannelSpec(c.substring(0, at), c.substring(at + 1)));
        }
        for (String n : split(networks)) {
            int eq = n.indexOf('=');
            b.network(eq < 0 ? new NetworkAttachment(n, null) : new NetworkAttachment(n.substring(0, eq),
                    n.substring(eq + 1)));
        }
        for (String d : split(disks)) {
            String[] parts = d.split(":");
            String format = DiskSpec.FORMAT_RAW;
            boolean readOnly = false;
            for (int i = 1; i < parts.length; i++) {
                switch (parts[i]) {
                    case "ro" -> readOnly = true;
                    case "rw" -> readOnly = false;
                    default -> format = parts[i];
                }
            }
            b.disk(new DiskSpec(parts[0], format, readOnly));
        }
        for (String l : split(labels)) {
            int eq = l.indexOf('=');
            if (eq <= 0) {
                throw new ZoneException("label '" + l + "' must be KEY=VALUE");
            }
            b.label(l.substring(0, eq), l.substring(eq + 1));
        }
        if (!image.isEmpty()) {
            b.image(image);
        }
        ZoneSpec spec = b.build();
        if (cw.hasWorkload()) {
            if (spec.image() == null) {
                throw new ZoneException("zone:create: --env, --workdir, --user and a command after -- are for image"
                        + " zones: give --image too");
            }
            spec = spec.toBuilder().workload(cw.over(spec.workload())).build();
        }
        ZoneInfo info = zones.create(spec);
        if (start) {
            info = zones.start(info.name());
        }
        return json ? ZoneJson.of(info).toString() : "zone " + info.name() + " " + info.state() + " (id "
                + info.id() + ")";
    }

    @Descriptor("Start a zone")
    public String start(@Descriptor("zone name") String name) throws ZoneException {
        ZoneInfo z = zones.start(name);
        return "zone " + z.name() + " " + z.state() + " on " + z.driver();
    }

    @Descriptor("Stop a zone: ask its guest to power off, and end it after the grace period")
    public String stop(
            @Descriptor("seconds to wait for the guest to power off") @Parameter(names = "--grace", absentValue = "-1") int grace,
            @Descriptor("zone name") String name) throws ZoneException {
        ZoneInfo z = zones.stop(name, grace < 0 ? null : Duration.ofSeconds(grace));
        return "zone " + z.name() + " " + z.state();
    }

    @Descriptor("End a zone by force if it runs, and remove it with everything stored for it")
    public String destroy(@Descriptor("zone name") String name) throws ZoneException {
        zones.destroy(name);
        return "zone " + name + " destroyed";
    }

    @Descriptor("Pause a running zone's vCPUs")
    public String pause(@Descriptor("zone name") String name) throws ZoneException {
        return "zone " + name + " " + zones.pause(name, true).state();
    }

    @Descriptor("Resume a paused zone")
    public String resume(@Descriptor("zone name") String name) throws ZoneException {
        return "zone " + name + " " + zones.pause(name, false).state();
    }

    @Descriptor("List zones")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json) {
        List<ZoneInfo> all = zones.list();
        if (json) {
            JsonArrayBuilder a = Json.createArrayBuilder();
            all.forEach(z -> a.add(ZoneJson.of(z)));
            return a.build().toString();
        }
        Table t = new Table("NAME", "STATE", "DRIVER", "VCPUS", "MEMORY", "SINCE", "REASON");
        for (ZoneInfo z : all) {
            String driver = z.driver() == null ? "-" : z.driver() + (z.state().isActive() && !z.driverAttached()
                    ? " (detached)" : "");
            t.row(z.name(), z.state(), driver, z.spec().vcpus(), z.spec().memoryMiB() + " MiB", z.since()
                    .toString().replaceFirst("\\.\\d+Z$", "Z"), z.reason());
        }
        StringBuilder out = new StringBuilder(all.isEmpty() ? "no zones; zone:create makes one\n" : t.toString());
        zones.quarantined().forEach(q -> out.append("warning: zone ").append(q.name())
                .append(" could not be read and was moved to ").append(q.movedTo()).append(": ")
                .append(q.problem()).append('\n'));
        zones.refusedDeclarations().forEach(r -> out.append("warning: declared zone file ").append(r.file())
                .append(" is refused: ").append(r.problem()).append('\n'));
        return out.toString().stripTrailing();
    }

    @Descriptor("Show a zone: its spec, state and runtime")
    public String info(
            @Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("zone name") String name) throws ZoneException {
        ZoneInfo z = zones.get(name).orElseThrow(() -> new ZoneException("no zone named '" + name
                + "'; zone:list shows the zones there are"));
        if (json) {
            return ZoneJson.of(z).toString();
        }
        StringBuilder sb = new StringBuilder();
        line(sb, "name", z.name());
        line(sb, "id", z.id());
        line(sb, "state", z.state() + (z.reason().isEmpty() ? "" : " (" + z.reason() + ")"));
        line(sb, "since", z.since());
        line(sb, "driver", z.driver() == null ? "-" : z.driver() + (z.driverAttached() ? "" : " (detached)"));
        ZoneSpec s = z.spec();
        line(sb, "vcpus", s.vcpus());
        line(sb, "memory", s.memoryMiB() + " MiB");
        line(sb, "kernel", s.kernel() == null ? "(driver default)" : s.kernel());
        line(sb, "initramfs", s.initramfs() == null ? "(driver default)" : s.initramfs());
        line(sb, "cmdline", s.cmdline());
        line(sb, "hypervisor", s.hypervisor() == null ? "(any)" : s.hypervisor());
        line(sb, "channels", s.channels().isEmpty() ? "-" : s.channels());
        line(sb, "devices", s.devices().isEmpty() ? "-" : s.devices());
        line(sb, "networks", s.networks().isEmpty() ? "-" : s.networks());
        line(sb, "disks", s.disks().isEmpty() ? "-" : s.disks());
        line(sb, "labels", s.labels().isEmpty() ? "-" : s.labels());
        if (s.image() != null) {
            line(sb, "image", s.image());
            if (!s.workload().isEmpty()) {
                line(sb, "workload", s.workload());
            }
        }
        new java.util.TreeMap<>(z.runtime()).forEach((k, v) -> line(sb, "runtime." + k, v));
        line(sb, "folder", zones.zoneDirectory(name));
        return sb.toString().stripTrailing();
    }

    @Descriptor("Print the end of a zone's console log, or with --workload of an image zone's workload output (at most the last 1 MiB, with the rotated .1 file), control characters escaped")
    public String logs(
            @Descriptor("only the last N lines (0: all the last 1 MiB holds)") @Parameter(names = { "-n", "--lines" }, absentValue = "0") int lines,
            @Descriptor("the workload's stdout and stderr instead of the console (image zones)") @Parameter(names = "--workload", presentValue = "true", absentValue = "false") boolean workload,
            @Descriptor("zone name") String name) throws ZoneException, IOException {
        if (workload) {
            return logsText(workloadLog(name), name, lines, "workload log");
        }
        return logsText(zones.consoleLog(name), name, lines);
    }

    /** An image zone's workload log; a zone that is no image zone has no workload, and is refused naming that. */
    private Path workloadLog(String name) throws ZoneException {
        ZoneInfo z = zones.get(name).orElseThrow(() -> new ZoneException("no zone named '" + name
                + "'; zone:list shows the zones there are"));
        if (z.spec().image() == null) {
            throw new ZoneException("zone " + name + " is not an image zone, so it has no workload log; what it runs"
                    + " prints on its console: zone:logs " + name);
        }
        return WorkloadLog.in(zones.zoneDirectory(name));
    }

    /** What zone:logs prints for a console log: its end, bounded, escaped, with a line that says when it was cut. */
    static String logsText(Path log, String name, int lines) throws IOException {
        return logsText(log, name, lines, "console log");
    }

    /** The same for a log of the given kind ("console log", "workload log"). */
    static String logsText(Path log, String name, int lines, String kind) throws IOException {
        if (!Files.exists(log)) {
            return "(zone " + name + " has printed nothing " + (kind.equals("console log") ? "" : "to its " + kind + " ")
                    + "yet)";
        }
        FileTail.Tail tail = FileTail.read(log, LOGS_TAIL);
        Path older = CappedLog.rotated(log);
        if (!tail.cut() && tail.bytes().length < LOGS_TAIL && Files.isRegularFile(older)) {
            // Just rotated: the end of the generation before fills the rest of the bound.
            FileTail.Tail before = FileTail.read(older, LOGS_TAIL - tail.bytes().length);
            byte[] both = Arrays.copyOf(before.bytes(), before.bytes().length + tail.bytes().length);
            System.arraycopy(tail.bytes(), 0, both, before.bytes().length, tail.bytes().length);
            tail = new FileTail.Tail(both, before.fileSize() + tail.fileSize());
        }
        String text = tail.text();
        boolean shortOfLines = false;
        if (lines > 0) {
            String[] all = text.split("\n", -1);
            int have = text.endsWith("\n") ? all.length - 1 : all.length; // a last line may still be unfinished
            shortOfLines = have < lines;
            text = String.join("\n", Arrays.asList(all).subList(Math.max(0, have - lines), all.length));
        }
        text = GuestText.escape(text).stripTrailing();
        if (tail.cut() && (lines == 0 || shortOfLines)) {
            return "(zone " + name + "'s " + kind + " holds " + tail.fileSize() / 1024 + " KiB; its last "
                    + LOGS_TAIL / 1024 + " KiB follow)\n" + text;
        }
        return text;
    }

    @Descriptor("Wait until a zone is in a state (RUNNING, STOPPED, ...), or until its console shows a text")
    public String wait(
            @Descriptor("give up after this many seconds") @Parameter(names = "--timeout", absentValue = "60") int timeout,
            @Descriptor("wait for this text on the console instead of a state") @Parameter(names = "--console", absentValue = "") String text,
            @Descriptor("with --console: wait for the text in an image zone's workload log instead") @Parameter(names = "--workload", presentValue = "true", absentValue = "false") boolean workload,
            @Descriptor("zone name, then the state(s) to wait for, comma-separated") String name,
            @Descriptor("states") String... states) throws ZoneException, IOException, InterruptedException {
        Duration limit = Duration.ofSeconds(timeout);
        if (!text.isEmpty()) {
            long deadline = System.nanoTime() + limit.toNanos();
            String shown = GuestText.escape(text);
            ConsoleFollow follow = new ConsoleFollow(workload ? workloadLog(name) : zones.consoleLog(name), text,
                    LOGS_TAIL);
            while (System.nanoTime() < deadline) {
                if (follow.step()) {
                    return "zone " + name + " printed '" + shown + "'";
                }
                if (follow.behind()) {
                    continue;
                }
                ZoneState s = zones.get(name).map(ZoneInfo::state).orElse(ZoneState.STOPPED);
                if (!s.isActive()) {
                    if (follow.step()) { // the last words before it stopped
                        return "zone " + name + " printed '" + shown + "'";
                    }
                    throw new ZoneException("zone " + name + " is " + s + " and never printed '" + shown + "'");
                }
                Thread.sleep(100);
            }
            throw new ZoneException("zone " + name + " did not print '" + shown + "' within " + timeout + " s");
        }
        if (states.length == 0) {
            throw new ZoneException("usage: zone:wait [--timeout S] NAME STATE[,STATE] or zone:wait [--workload] --console TEXT NAME");
        }
        Set<ZoneState> want = EnumSet.noneOf(ZoneState.class);
        for (String s : String.join(",", states).split(",")) {
            try {
                want.add(ZoneState.valueOf(s.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new ZoneException("'" + s + "' is not a zone state; states are " + EnumSet.allOf(ZoneState.class));
            }
        }
        return "zone " + name + " " + zones.await(name, want, limit).state();
    }

    @Descriptor("Attach to a running zone's console; Ctrl-] detaches and leaves the zone running")
    public void console(@Descriptor("zone name") String name) throws ZoneException, IOException, InterruptedException {
        PrintStream out = System.out;
        InputStream in = System.in;
        try (ByteChannel console = zones.attachConsole(name)) {
            out.println("attached to zone " + name + "; press Ctrl-] to detach");
            out.flush();
            Thread pump = new Thread(() -> {
                ByteBuffer buf = ByteBuffer.allocate(4096);
                try {
                    while (console.read(buf) >= 0) {
                        out.write(buf.array(), 0, buf.position());
                        out.flush();
                        buf.clear();
                    }
                } catch (IOException e) {
                    // Closed by detach.
                }
            }, "zone-console-" + name);
            pump.setDaemon(true);
            pump.start();
            int c;
            while ((c = in.read()) >= 0 && c != ESCAPE) {
                console.write(ByteBuffer.wrap(new byte[] { (byte) c }));
            }
        }
        out.println();
        out.println("detached from zone " + name + "; it keeps running");
    }

    private static int number(String option, String value) throws ZoneException {
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new ZoneException(option + " takes a whole number, not '" + value + "'");
        }
    }

    private static void line(StringBuilder sb, String key, Object value) {
        sb.append(String.format("%-16s %s%n", key, value));
    }

    private static List<String> split(String csv) {
        return csv.isBlank() ? List.of() : Stream.of(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    static String errors(InvalidSpecException e) {
        return e.getMessage();
    }
}

package io.zonekeeper.xen.xl;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import io.zonekeeper.hostio.ProcessRunner;

/**
 * The xl command line, one call per method. Every call has a time limit, and a failed call says what xl printed.
 * Output goes through a file rather than a pipe: {@code xl create} leaves a daemon behind that would otherwise
 * hold the pipe open.
 */
public final class Xl {

    /** What one command did: its exit code and what it printed (stdout and stderr together). */
    public record Result(int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs a command line; the tests give a fake, the driver {@link #processRunner()}. */
    @FunctionalInterface
    public interface Runner {
        Result run(List<String> argv, Duration timeout) throws IOException;
    }

    private static final Duration SHORT = Duration.ofSeconds(30);
    private static final Duration CREATE = Duration.ofSeconds(120);

    private final String binary;
    private final Runner runner;

    public Xl(String binary, Runner runner) {
        this.binary = binary;
        this.runner = runner;
    }

    public String binary() {
        return binary;
    }

    /** Creates the domain of {@code config}; xl's own daemon then watches it and carries out on_poweroff etc. */
    public void create(Path config) throws IOException {
        check(call(CREATE, "create", config.toString()), "create " + config);
    }

    /** The id of the domain called {@code name}, if one exists. */
    public Optional<Integer> domid(String name) throws IOException {
        Result r = call(SHORT, "domid", name);
        String out = r.output().strip();
        return r.ok() && out.matches("\\d+") ? Optional.of(Integer.parseInt(out)) : Optional.empty();
    }

    /** Every domain xl knows a config of, with its state flags. */
    public List<Domain> domains() throws IOException {
        Result l = call(SHORT, "list", "-l");
        check(l, "list -l");
        List<Domain> domains = XlList.parseLong(jsonPart(l.output()));
        Result flags = call(SHORT, "list");
        check(flags, "list");
        return XlList.merge(domains, XlList.parseFlags(flags.output()));
    }

    /** The domain whose uuid is {@code id}, if it exists. */
    public Optional<Domain> domainOf(UUID id) throws IOException {
        return domains().stream().filter(d -> d.uuid().filter(id::equals).isPresent()).findFirst();
    }

    /** Plain {@code xl list} as printed, for {@link XlStats}. */
    public String table() throws IOException {
        Result r = call(SHORT, "list");
        check(r, "list");
        return r.output();
    }

    /** The state flags of each domain, from plain {@code xl list}: one fork, for watching. */
    public Map<Integer, String> flags() throws IOException {
        Result r = call(SHORT, "list");
        check(r, "list");
        return XlList.parseFlags(r.output());
    }

    /** Asks the guest to power off (through xenstore's control/shutdown); returns without waiting. */
    public void shutdown(int domid) throws IOException {
        check(call(SHORT, "shutdown", String.valueOf(domid)), "shutdown " + domid);
    }

    public void destroy(int domid) throws IOException {
        check(call(SHORT, "destroy", String.valueOf(domid)), "destroy " + domid);
    }

    public void pause(int domid) throws IOException {
        check(call(SHORT, "pause", String.valueOf(domid)), "pause " + domid);
    }

    public void unpause(int domid) throws IOException {
        check(call(SHORT, "unpause", String.valueOf(domid)), "unpause " + domid);
    }

    /** {@code xl info} as keys and values (xen_version, nr_cpus, free_memory, ...). */
    public Map<String, String> info() throws IOException {
        Result r = call(SHORT, "info");
        check(r, "info");
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : r.output().split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.put(line.substring(0, colon).strip(), line.substring(colon + 1).strip());
            }
        }
        return out;
    }

    /** The argument list of an interactive console on {@code domid}. */
    public List<String> consoleCommand(int domid) {
        return List.of(binary, "console", String.valueOf(domid));
    }

    private Result call(Duration timeout, String... args) throws IOException {
        List<String> argv = new ArrayList<>();
        argv.add(binary);
        argv.addAll(List.of(args));
        return runner.run(argv, timeout);
    }

    private void check(Result r, String what) throws IOException {
        if (!r.ok()) {
            String out = r.output().strip();
            if (out.length() > 2000) {
                out = "..." + out.substring(out.length() - 2000);
            }
            throw new IOException(binary + " " + what + " failed with exit code " + r.exitCode()
                    + (out.isEmpty() ? "" : ": " + out));
        }
    }

    /** xl may print warnings before the JSON; the JSON starts at the first '['. */
    static String jsonPart(String out) {
        int at = out.indexOf('[');
        return at < 0 ? "" : out.substring(at);
    }

    /** Runs commands as host processes with host-io's {@link ProcessRunner}: killed, with theirs, at the timeout. */
    public static Runner processRunner() {
        return (argv, timeout) -> {
            ProcessRunner.Result r = new ProcessRunner(timeout).run(argv);
            return new Result(r.exitCode(), r.output());
        };
    }
}

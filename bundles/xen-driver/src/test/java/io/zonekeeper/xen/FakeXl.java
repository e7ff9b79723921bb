package io.zonekeeper.xen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.zonekeeper.xen.xl.Xl;

/**
 * A pretend xl for driver tests: a table of domains that create, shutdown, destroy, pause and unpause change, and
 * list / list -l print in xl's formats. Every call is recorded.
 */
final class FakeXl implements Xl.Runner {
    static final class Dom {
        final int domid;
        final String name;
        final String uuid;
        String flags = "-b----";

        Dom(int domid, String name, String uuid) {
            this.domid = domid;
            this.name = name;
            this.uuid = uuid;
        }
    }

    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    final Map<Integer, Dom> domains = Collections.synchronizedMap(new TreeMap<>());
    /** Guests that ignore xl shutdown (no PV shutdown support), so only destroy ends them. */
    boolean ignoreShutdown;
    private int nextDomid = 1;

    @Override
    public Xl.Result run(List<String> argv, Duration timeout) throws IOException {
        String cmd = String.join(" ", argv.subList(1, argv.size()));
        calls.add(cmd);
        String verb = argv.get(1);
        switch (verb) {
            case "create" -> {
                String cfg = Files.readString(Path.of(argv.get(2)));
                String name = value(cfg, "name");
                String uuid = value(cfg, "uuid");
                synchronized (domains) {
                    if (domains.values().stream().anyMatch(d -> d.name.equals(name))) {
                        return new Xl.Result(1, "libxl: error: domain with name " + name + " already exists");
                    }
                    int id = nextDomid++;
                    domains.put(id, new Dom(id, name, uuid));
                }
                return new Xl.Result(0, "Parsing config from " + argv.get(2) + "\n");
            }
            case "list" -> {
                StringBuilder b = new StringBuilder();
                synchronized (domains) {
                    if (argv.size() > 2 && argv.get(2).equals("-l")) {
                        b.append("[\n");
                        List<String> entries = new ArrayList<>();
                        entries.add("{\"domid\": 0, \"config\": {\"c_info\": {\"type\": \"pv\", \"name\": \"Domain-0\"}}}");
                        for (Dom d : domains.values()) {
                            entries.add("{\"domid\": " + d.domid + ", \"config\": {\"c_info\": {\"type\": \"pv\", "
                                    + "\"name\": \"" + d.name + "\", \"uuid\": \"" + d.uuid + "\"}}}");
                        }
                        b.append(String.join(",\n", entries)).append("\n]\n");
                    } else {
                        b.append("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
                        b.append("Domain-0                                     0  1536     2     r-----      41.3\n");
                        for (Dom d : domains.values()) {
                            b.append(String.format("%-40s %5d %5d %5d     %s %10.1f%n", d.name, d.domid, 256, 1,
                                    d.flags, 1.0));
                        }
                    }
                }
                return new Xl.Result(0, b.toString());
            }
            case "domid" -> {
                synchronized (domains) {
                    return domains.values().stream().filter(d -> d.name.equals(argv.get(2))).findFirst()
                            .map(d -> new Xl.Result(0, d.domid + "\n"))
                            .orElse(new Xl.Result(1, "Can't get domid of domain name '" + argv.get(2) + "'"));
                }
            }
            case "shutdown", "destroy", "pause", "unpause" -> {
                int id = Integer.parseInt(argv.get(2));
                Dom d = domains.get(id);
                if (d == null) {
                    return new Xl.Result(1, "libxl: error: domain " + id + " does not exist");
                }
                switch (verb) {
                    case "shutdown" -> {
                        if (!ignoreShutdown) {
                            domains.remove(id);
                        }
                    }
                    case "destroy" -> domains.remove(id);
                    case "pause" -> d.flags = "--p---";
                    default -> d.flags = "-b----";
                }
                return new Xl.Result(0, "");
            }
            case "info" -> {
                return new Xl.Result(0, "host : fake\nnr_cpus : 2\nfree_memory : 1400\nxen_version : 4.17.5\n");
            }
            default -> {
                return new Xl.Result(2, "fake xl does not know " + cmd);
            }
        }
    }

    private static String value(String cfg, String key) {
        Matcher m = Pattern.compile("(?m)^" + key + " = \"([^\"]*)\"").matcher(cfg);
        if (!m.find()) {
            throw new IllegalStateException("no " + key + " in " + cfg);
        }
        return m.group(1);
    }

    /** A guest powering itself off: the domain is gone without the driver asking. */
    void powerOff(int domid) {
        domains.remove(domid);
    }

    long count(String prefix) {
        return calls.stream().filter(c -> c.startsWith(prefix)).count();
    }
}

package io.zonekeeper.itests.faults;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

import io.zonekeeper.hostio.GuestProcessScan;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

/**
 * What must hold after any crash, once a new appliance has settled: every zone's state matches its guest (a QEMU
 * with the zone's uuid runs exactly when the zone is active, and it is the one the record names); no QEMU with a
 * uuid runs outside the appliance's zones; no tap, lease or disk lock is left to a zone that does not run
 * (net:orphans, disk:orphans, the host's tap devices) or given to two running zones at once.
 */
final class ApplianceInvariants {
    private static final Set<String> ACTIVE = Set.of("STARTING", "RUNNING", "PAUSED", "STOPPING");
    private static final Duration ASK = Duration.ofSeconds(60);

    private final ControlClient control;
    private final Path state;
    private final boolean networks;

    ApplianceInvariants(ControlClient control, Path state, boolean networks) {
        this.control = control;
        this.state = state;
        this.networks = networks;
    }

    /** The QEMUs of this appliance's state directory, by pid, with the uuid on their command line. */
    Map<Long, UUID> ourGuests() {
        Map<Long, UUID> ours = new TreeMap<>();
        GuestProcessScan.host().all().forEach((pid, uuid) -> {
            List<String> argv = GuestProcessScan.cmdline(Path.of("/proc", String.valueOf(pid), "cmdline"));
            if (!argv.isEmpty() && argv.get(0).contains("qemu-system") && String.join(" ", argv)
                    .contains(state.toString())) {
                ours.put(pid, uuid);
            }
        });
        return ours;
    }

    JsonArray zones() throws IOException {
        ControlClient.Answer a = control.run("zone:list --json", ASK);
        if (!a.ok()) {
            throw new IOException("zone:list failed: " + a.err());
        }
        return Json.createReader(new StringReader(a.out().substring(a.out().indexOf('[')))).readArray();
    }

    /**
     * The invariants that still do not hold after the appliance had {@code limit} to settle: a restarted appliance
     * adopts its zones and takes back what crashed zones held as its drivers and providers come, one by one.
     */
    List<String> afterSettling(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        List<String> bad;
        do {
            try {
                bad = violations();
            } catch (IOException e) {
                bad = List.of("the appliance does not answer: " + e);
            }
            if (bad.isEmpty()) {
                return bad;
            }
            Thread.sleep(500);
        } while (System.nanoTime() < deadline);
        return bad;
    }

    /** Every invariant that does not hold now, in words; empty when all hold. */
    List<String> violations() throws IOException {
        List<String> bad = new ArrayList<>();
        JsonArray zones = zones();
        Map<Long, UUID> guests = ourGuests();
        Map<UUID, String> known = new HashMap<>();
        Map<String, String> taps = new HashMap<>();
        Map<String, String> addresses = new HashMap<>();
        Map<String, String> rwDisks = new HashMap<>();
        for (JsonObject z : zones.getValuesAs(JsonObject.class)) {
            String name = z.getString("name");
            UUID id = UUID.fromString(z.getString("id"));
            known.put(id, name);
            String st = z.getString("state");
            List<Long> pids = guests.entrySet().stream().filter(e -> e.getValue().equals(id)).map(Map.Entry::getKey)
                    .toList();
            boolean active = ACTIVE.contains(st);
            if (active && pids.isEmpty()) {
                bad.add("zone " + name + " is " + st + ", but no QEMU with its uuid runs");
            } else if (!active && !pids.isEmpty()) {
                bad.add("zone " + name + " is " + st + " (" + z.getString("reason", "") + "), but QEMU " + pids
                        + " with its uuid runs");
            } else if (pids.size() > 1) {
                bad.add("zone " + name + " has " + pids.size() + " QEMUs: " + pids);
            }
            if (!active) {
                continue;
            }
            if (!z.getBoolean("driverAttached")) {
                bad.add("zone " + name + " is " + st + ", but no driver holds it");
            }
            JsonObject rt = z.getJsonObject("runtime");
            String pid = rt == null ? null : rt.getString("pid", null);
            if (!pids.isEmpty() && (pid == null || Long.parseLong(pid) != pids.get(0))) {
                bad.add("zone " + name + " records pid " + pid + ", but its QEMU is " + pids.get(0));
            }
            if (rt == null) {
                continue;
            }
            for (String key : rt.keySet()) {
                String v = rt.getString(key);
                if (key.startsWith("nic.")) {
                    String[] f = v.split(" ");
                    twice(bad, taps, f[f.length - 1], name, "tap");
                    twice(bad, addresses, f[1], name, "address");
                } else if (key.startsWith("disk.") && v.endsWith(" rw")) {
                    twice(bad, rwDisks, v.substring(0, v.indexOf(' ')), name, "read-write disk");
                }
            }
        }
        guests.forEach((pid, uuid) -> {
            if (!known.containsKey(uuid)) {
                bad.add("QEMU " + pid + " with uuid " + uuid + " belongs to no zone (unmanaged)");
            }
        });
        for (String cmd : networks ? List.of("net:orphans", "disk:orphans") : List.of("disk:orphans")) {
            ControlClient.Answer a = control.run(cmd, ASK);
            a.out().lines().filter(l -> l.startsWith("orphan")).forEach(l -> bad.add(cmd + ": " + l));
        }
        if (networks) {
            for (String tap : hostTaps()) {
                if (!taps.containsKey(tap)) {
                    bad.add("tap " + tap + " exists on the host, but no running zone has it");
                }
            }
        }
        return bad;
    }

    private static void twice(List<String> bad, Map<String, String> seen, String what, String zone, String kind) {
        String other = seen.putIfAbsent(what, zone);
        if (other != null) {
            bad.add(kind + " " + what + " given to both " + other + " and " + zone);
        }
    }

    /** The tap devices in this network namespace (the zone-network provider makes one per nic of a zone). */
    private static List<String> hostTaps() throws IOException {
        Process p = new ProcessBuilder("ip", "-o", "link", "show", "type", "tun").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        List<String> taps = new ArrayList<>();
        for (String line : out.split("\n")) {
            String[] f = line.split(":\\s+");
            if (f.length > 1) {
                taps.add(f[1].split("@")[0].trim());
            }
        }
        return taps;
    }
}

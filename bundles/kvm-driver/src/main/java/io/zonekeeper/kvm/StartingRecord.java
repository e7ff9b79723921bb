package io.zonekeeper.kvm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import io.zonekeeper.hostio.GuestProcessScan;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/**
 * The runtime record written, and fsynced, before QEMU is launched: it names the zone's uuid, its pidfile and QMP
 * socket, so that an appliance killed between the launch and the full record still leaves the next one a way to
 * find the guest (the pidfile, proven by the {@code -uuid} on the process's command line) instead of calling the
 * zone crashed and giving its taps and disk locks to others while that QEMU still holds them.
 */
final class StartingRecord {
    /** Runtime record key: {@link #STARTING} until the full record replaces it. */
    static final String R_PHASE = "phase";
    static final String STARTING = "starting";
    static final String R_PIDFILE = "pidfile";

    private StartingRecord() {
    }

    /**
     * The starting record of a start whose full record, but for the pid, is {@code planned}: it must name the
     * zone's uuid and QMP socket; the pidfile is added. The nics, disks and channels it names are what an
     * adopting driver reports for the guest, as the full record would.
     */
    static RuntimeRecord of(RuntimeRecord planned, ZoneFiles files) {
        if (planned.get(KvmDriver.R_UUID).isEmpty() || planned.get(KvmDriver.R_QMP).isEmpty()) {
            throw new IllegalArgumentException("a starting record names the zone's uuid and QMP socket");
        }
        Map<String, String> p = new LinkedHashMap<>();
        p.put(R_PHASE, STARTING);
        p.put(R_PIDFILE, files.pidFile().toString());
        planned.properties().forEach((k, v) -> {
            if (!k.equals(RuntimeRecord.PID)) {
                p.put(k, v);
            }
        });
        return new RuntimeRecord(KvmDriver.TYPE, p);
    }

    /** The least starting record, for a zone whose start plan is not at hand (tests). */
    static RuntimeRecord of(ZoneContext zone, ZoneFiles files) {
        return of(new RuntimeRecord(KvmDriver.TYPE, Map.of(KvmDriver.R_UUID, zone.id().toString(), KvmDriver.R_QMP,
                files.qmpSocket().toString(), KvmDriver.R_CONSOLE, files.consoleSocket().toString(),
                RuntimeRecord.CONSOLE_LOG, files.consoleLog().toString())), files);
    }

    static boolean isStarting(RuntimeRecord r) {
        return STARTING.equals(r.properties().get(R_PHASE)) && r.get(RuntimeRecord.PID).isEmpty();
    }

    /**
     * The pid of the guest a starting record stands for: the one its pidfile names, else (QEMU killed with the
     * appliance before it wrote the pidfile, or the file lost) the one QEMU on the host with the zone's uuid.
     * Either way only a QEMU with {@code -uuid} of this zone counts; empty when none runs.
     */
    static Optional<Long> guestPid(ZoneContext zone, RuntimeRecord r, GuestProcessScan scan) {
        ZoneFiles files = new ZoneFiles(zone.directory());
        OptionalInt fromFile = QemuProcess.readPid(r.get(R_PIDFILE).map(java.nio.file.Path::of)
                .orElse(files.pidFile()));
        if (fromFile.isPresent() && QemuProcess.isQemuOf(fromFile.getAsInt(), zone.id())) {
            return Optional.of((long) fromFile.getAsInt());
        }
        List<Long> withUuid = scan.pidsOf(zone.id()).stream().filter(pid -> QemuProcess.isQemuOf(pid, zone.id()))
                .toList();
        return withUuid.size() == 1 ? Optional.of(withUuid.get(0)) : Optional.empty();
    }

    /** The record once the guest is found: what the starting record said, with its pid and without the phase. */
    static RuntimeRecord adopted(RuntimeRecord starting, long pid) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(RuntimeRecord.PID, String.valueOf(pid));
        starting.properties().forEach((k, v) -> {
            if (!k.equals(R_PHASE) && !k.equals(R_PIDFILE)) {
                p.put(k, v);
            }
        });
        return new RuntimeRecord(KvmDriver.TYPE, p);
    }
}

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

    static RuntimeRecord of(ZoneContext zone, ZoneFiles files) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(R_PHASE, STARTING);
        p.put(KvmDriver.R_UUID, zone.id().toString());
        p.put(R_PIDFILE, files.pidFile().toString());
        p.put(KvmDriver.R_QMP, files.qmpSocket().toString());
        p.put(KvmDriver.R_CONSOLE, files.consoleSocket().toString());
        p.put(RuntimeRecord.CONSOLE_LOG, files.consoleLog().toString());
        return new RuntimeRecord(KvmDriver.TYPE, p);
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
    static RuntimeRecord adopted(RuntimeRecord starting, long pid, String accel) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(RuntimeRecord.PID, String.valueOf(pid));
        starting.properties().forEach((k, v) -> {
            if (!k.equals(R_PHASE)) {
                p.put(k, v);
            }
        });
        p.put(KvmDriver.R_ACCEL, accel);
        return new RuntimeRecord(KvmDriver.TYPE, p);
    }
}

package com.example.zonekeeper.tpm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.StateLocation;

/**
 * Serves devices of type {@code tpm}: for each start of a zone it starts a swtpm (TPM 2.0) whose state lives in the
 * zone's folder, and hands the driver its control socket. The driver connects the guest's TPM to it; the TPM needs
 * ACPI tables from firmware for the guest to find it ({@link PlatformNeed#FIRMWARE_ACPI}).
 *
 * <p>Stopping, updating or uninstalling this bundle never stops a swtpm: a running zone keeps its TPM. swtpm ends by
 * itself when its QEMU ends cleanly; {@link #release} ends it otherwise (a QEMU that was killed), by its recorded
 * PID and only once it is proven to be the swtpm of that zone's socket.
 */
@Component(service = DeviceBackend.class, configurationPid = SwtpmBackend.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL,
        property = DeviceBackend.TYPE_PROPERTY + "=" + SwtpmBackend.TYPE)
@Designate(ocd = SwtpmBackend.Config.class)
public final class SwtpmBackend implements DeviceBackend {
    public static final String TYPE = "tpm";
    public static final String PID = "com.example.zonekeeper.tpm";
    /** The only TPM version this backend offers (swtpm --tpm2); a spec may also leave the address out. */
    public static final String VERSION = "2.0";
    private static final int MAX_SOCKET_PATH = 107;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration STOP_GRACE = Duration.ofSeconds(3);

    @ObjectClassDefinition(name = "Example virtual TPM (swtpm)", description = "A TPM 2.0 per zone, by swtpm")
    public @interface Config {
        @AttributeDefinition(description = "The swtpm binary, by name or path")
        String swtpmBinary() default "swtpm";

        @AttributeDefinition(description = "The guest's TPM interface: tpm-tis or tpm-crb")
        String model() default "tpm-tis";
    }

    /** The appliance's state directory, as zone-core says: the same folder whatever the launcher chose. */
    @Reference
    private StateLocation state;

    private volatile String swtpmBinary;
    private volatile String model;
    private volatile TpmRecords records;

    /** For Declarative Services; configured in {@link #activate}. */
    public SwtpmBackend() {
    }

    /** As a plain object (tests, tools). */
    public SwtpmBackend(Path stateDir, String swtpmBinary, String model) {
        configure(stateDir, swtpmBinary, model);
    }

    @Activate
    @Modified
    void activate(Config config) {
        configure(state.directory(), config.swtpmBinary(), config.model());
    }

    // No @Deactivate: there is nothing to stop. Zones keep their swtpm while this bundle is away.

    private void configure(Path stateDir, String binary, String model) {
        if (!"tpm-tis".equals(model) && !"tpm-crb".equals(model)) {
            throw new IllegalArgumentException("model must be tpm-tis or tpm-crb, not '" + model + "'");
        }
        this.swtpmBinary = binary;
        this.model = model;
        this.records = new TpmRecords(DeviceBackend.stateDirectory(stateDir.toAbsolutePath(), TYPE));
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public List<FieldError> validate(List<IndexedDevice> devices) {
        List<FieldError> errors = new ArrayList<>();
        for (IndexedDevice d : devices) {
            String a = d.device().address();
            if (a != null && !VERSION.equals(a)) {
                errors.add(new FieldError(d.field() + ".address", "'" + a + "' is not a TPM version this backend"
                        + " offers: leave the address out or say " + VERSION));
            }
        }
        if (devices.size() > 1) {
            errors.add(new FieldError(devices.get(1).field(), "a zone has at most one TPM (" + devices.get(0).field()
                    + " is one already)"));
        }
        return errors;
    }

    @Override
    public List<PreparedDevice> prepare(UUID zoneId, String zoneName, Path zoneDirectory, List<IndexedDevice> devices)
            throws ZoneException {
        List<FieldError> errors = validate(devices);
        if (!errors.isEmpty()) {
            throw new ZoneException("zone " + zoneName + ": " + errors.get(0));
        }
        if (devices.isEmpty()) {
            return List.of();
        }
        // An earlier start's swtpm (its QEMU was killed, say) would hold the state's lock: end it first.
        release(zoneId, zoneName);
        Path dir = zoneDirectory.toAbsolutePath();
        Path socket = dir.resolve("tpm.sock");
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH || socket.toString()
                .contains(",")) {
            throw new ZoneException("zone " + zoneName + ": " + devices.get(0).field() + ": the TPM socket " + socket
                    + " is longer than a Unix socket path may be (" + MAX_SOCKET_PATH + " bytes) or has a comma; use"
                    + " a shorter state directory");
        }
        Path state = dir.resolve("tpm");
        Swtpm.Launch launch = new Swtpm.Launch(swtpmBinary, socket, state, dir.resolve("swtpm.pid"),
                dir.resolve("swtpm.log"));
        long pid = -1;
        try {
            Files.createDirectories(state);
            Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
            Files.deleteIfExists(socket);
            Files.deleteIfExists(launch.pidFile());
            pid = Swtpm.start(launch, START_TIMEOUT);
            records.write(new TpmRecords.TpmRecord(zoneId, zoneName, pid, socket, state, Instant.now()));
        } catch (IOException | RuntimeException e) {
            if (pid > 0) {
                Swtpm.stop(pid, socket, STOP_GRACE);
            }
            deleteQuietly(socket);
            deleteQuietly(launch.pidFile());
            throw new ZoneException("zone " + zoneName + ": " + devices.get(0).field() + ": the TPM emulator did not"
                    + " start: " + e.getMessage(), e);
        }
        return List.of(new PreparedDevice(TYPE, "tpm0", Map.of("socket", socket.toString(), "model", model,
                "version", VERSION), EnumSet.of(PlatformNeed.FIRMWARE_ACPI)));
    }

    @Override
    public void release(UUID zoneId, String zoneName) {
        Optional<TpmRecords.TpmRecord> found;
        try {
            found = records.read(zoneId);
        } catch (IOException e) {
            throw new IllegalStateException("zone " + zoneName + ": " + e.getMessage(), e);
        }
        if (found.isEmpty()) {
            return;
        }
        TpmRecords.TpmRecord r = found.get();
        if (!Swtpm.stop(r.pid(), r.socket(), STOP_GRACE)) {
            // Keep the record: the next release or start tries again, and orphans() names it.
            throw new IllegalStateException("zone " + zoneName + ": swtpm pid " + r.pid() + " survived SIGKILL");
        }
        deleteQuietly(r.socket());
        deleteQuietly(r.socket().resolveSibling("swtpm.pid"));
        try {
            records.delete(zoneId);
        } catch (IOException e) {
            throw new IllegalStateException("zone " + zoneName + ": cannot remove " + records.fileOf(zoneId) + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public List<String> orphans(Set<UUID> activeZones) {
        List<String> out = new ArrayList<>();
        try {
            for (UUID id : records.zones()) {
                if (activeZones.contains(id)) {
                    continue;
                }
                try {
                    TpmRecords.TpmRecord r = records.read(id).orElseThrow();
                    out.add("zone " + r.zoneName() + " (" + id + ") does not run, but "
                            + (Swtpm.isSwtpmOf(r.pid(), r.socket()) ? "its swtpm pid " + r.pid() + " still does"
                                    : "its swtpm record " + records.fileOf(id) + " is still there (the swtpm has"
                                            + " ended)") + "; the zone's next start or stop releases it");
                } catch (IOException e) {
                    out.add(e.getMessage());
                }
            }
        } catch (IOException e) {
            out.add("cannot list " + records.directory() + ": " + e.getMessage());
        }
        return out;
    }

    /** The PID of the swtpm this backend runs for {@code zoneId}, if it has one (for tools and tests). */
    public Optional<Long> swtpmPid(UUID zoneId) {
        try {
            return records.read(zoneId).map(TpmRecords.TpmRecord::pid);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover socket file does no harm; the next start deletes it
        }
    }
}

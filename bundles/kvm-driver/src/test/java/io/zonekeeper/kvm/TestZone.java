package io.zonekeeper.kvm;

import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/** zone-core's part, played by a test: a folder, a remembered runtime record and the reports received. */
final class TestZone implements ZoneContext {
    record Report(ZoneState state, String reason) {
    }

    private final UUID id;
    private final ZoneSpec spec;
    private final Path dir;
    private volatile RuntimeRecord runtime;
    volatile PreparedResources resources = PreparedResources.NONE;
    /** Runs when the driver saves the record it writes just before it launches QEMU (one without a pid). */
    volatile Runnable beforeLaunch;
    final BlockingQueue<Report> reports = new LinkedBlockingQueue<>();

    TestZone(UUID id, ZoneSpec spec, Path dir) {
        this.id = id;
        this.spec = spec;
        this.dir = dir;
    }

    /** Another view of the same folder and record, as a different zone (or the same after a restart). */
    TestZone withId(UUID other) {
        TestZone z = new TestZone(other, spec, dir);
        z.runtime = runtime;
        return z;
    }

    @Override
    public UUID id() {
        return id;
    }

    @Override
    public String name() {
        return spec.name();
    }

    @Override
    public ZoneSpec spec() {
        return spec;
    }

    @Override
    public Path directory() {
        return dir;
    }

    @Override
    public Optional<RuntimeRecord> runtime() {
        return Optional.ofNullable(runtime);
    }

    @Override
    public void saveRuntime(RuntimeRecord record) {
        runtime = record;
        Runnable hook = beforeLaunch;
        if (hook != null && record.get(RuntimeRecord.PID).isEmpty()) {
            hook.run();
        }
    }

    @Override
    public void report(ZoneState state, String reason) {
        reports.add(new Report(state, reason));
    }

    @Override
    public PreparedResources resources() {
        return resources;
    }

    Report nextReport(long seconds) throws InterruptedException {
        return reports.poll(seconds, TimeUnit.SECONDS);
    }
}

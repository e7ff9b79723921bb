package io.zonekeeper.kvm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.kvm.qemu.QemuProcess;
import io.zonekeeper.kvm.qemu.ZoneFiles;

public class ZoneWatchTest {
    @Test
    public void theInitsLastExitLineForThisZoneIsTheWorkloadsStatus() {
        List<String> lines = List.of("zonekeeper: zone web workload exited 9", "hello",
                "zonekeeper: zone web workload exited 3\r", "[    1.2] reboot: Power down");
        assertEquals(Optional.of(3), ZoneWatch.workloadExit("web", lines));
    }

    @Test
    public void noLineOrAnotherZonesLineGivesNothing() {
        assertEquals(Optional.empty(), ZoneWatch.workloadExit("web", List.of("zonekeeper: zone web ready")));
        assertEquals(Optional.empty(), ZoneWatch.workloadExit("web",
                List.of("zonekeeper: zone webx workload exited 1")));
    }

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /**
     * A QEMU's exit is seen a moment late (by a shared watcher). By then its zone may be gone and a zone of the same
     * name running in the same folder: the late watch must leave that QEMU's sockets alone.
     */
    @Test
    public void aLateExitLeavesTheFilesOfTheNextQemuInTheSameFolder() throws Exception {
        ZoneFiles files = exitedWatch(999_999);
        assertTrue("the next QEMU's QMP socket is kept", Files.exists(files.qmpSocket()));
        assertTrue("the next QEMU's channel socket is kept", Files.exists(files.channelSocket("ctl")));
    }

    @Test
    public void anExitOfTheQemuThePidfileNamesRemovesItsFiles() throws Exception {
        ZoneFiles files = exitedWatch(-1);
        assertFalse(Files.exists(files.qmpSocket()));
        assertFalse(Files.exists(files.channelSocket("ctl")));
    }

    /** Watches a real short-lived process as a zone's guest; the pidfile names {@code pidInFile} (-1: the process). */
    private ZoneFiles exitedWatch(long pidInFile) throws Exception {
        Path dir = tmp.newFolder("zone").toPath();
        TestZone zone = new TestZone(UUID.randomUUID(), ZoneSpec.builder("w").channel(
                io.zonekeeper.api.ChannelSpec.toHost("ctl")).build(), dir);
        ZoneFiles files = new ZoneFiles(dir);
        Process p = new ProcessBuilder("sleep", "0.3").start();
        QemuProcess guest = QemuProcess.find(p.pid()).orElseThrow();
        Files.writeString(files.pidFile(), (pidInFile < 0 ? p.pid() : pidInFile) + "\n");
        Files.createDirectories(files.channelSocket("ctl").getParent());
        Files.writeString(files.qmpSocket(), "");
        Files.writeString(files.channelSocket("ctl"), "");
        ZoneWatch w = new ZoneWatch(zone, files, guest, "tcg", gone -> { });
        w.attach(null, ZoneState.RUNNING);
        TestZone.Report r = zone.reports.poll(30, TimeUnit.SECONDS);
        assertNotNull("the guest's end is reported", r);
        return files;
    }
}

package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.service.cm.ConfigurationAdmin;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;

/**
 * A hostile guest floods its console as fast as its serial port goes, with terminal escape sequences (clear the
 * screen, set the window title, ring the bell) in every line. The appliance keeps answering: zone:logs prints a
 * bounded tail with the sequences escaped, zone:wait --console still finds text, and the zone's console log and
 * its one rotated generation stay under the configured cap.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HostileConsoleIT {
    private static final Path STATE = Containers.newStateDir("hostile-console");
    private static final int CAP_KIB = 64;

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;
    @Inject
    ConfigurationAdmin config;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm() };
    }

    @After
    public void destroyEverything() throws Exception {
        Containers.destroyAllZones(zones, shell);
        config.getConfiguration("io.zonekeeper.kvm", "?").delete();
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private FileTime awaitRotation(Path rotated, FileTime after) throws InterruptedException, java.io.IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(rotated)) {
                FileTime t = Files.getLastModifiedTime(rotated);
                if (after == null || t.compareTo(after) > 0) {
                    return t;
                }
            }
            // The appliance answers while the guest floods.
            assertTrue(sh("zone:list").contains("flood"));
            Thread.sleep(200);
        }
        throw new AssertionError("the console log was not rotated to " + rotated + "; the folder holds "
                + Files.list(rotated.getParent()).map(p -> p.getFileName() + " " + p.toFile().length()).toList());
    }

    @Test
    public void aGuestFloodingItsConsoleGetsABoundedEscapedLogAndTheApplianceKeepsAnswering() throws Exception {
        Dictionary<String, Object> kvm = new Hashtable<>();
        kvm.put("consoleLogCapKiB", CAP_KIB);
        config.getConfiguration("io.zonekeeper.kvm", "?").update(kvm);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!sh("driver:info kvm").contains(CAP_KIB + " KiB, then console.log.1")) {
            assertTrue("the kvm driver took the console log cap", System.nanoTime() < deadline);
            Thread.sleep(100);
        }
        // What an attacker inside the zone runs. The spec goes through the API: no shell quoting in the way.
        zones.create(ZoneSpec.builder("flood").hypervisor("kvm").memoryMiB(128).cmdline("zk.run=\"while :; do"
                + " echo flood-line-from-a-hostile-guest; printf '\\033[2J\\033]0;pwned\\007'; done\"").build());
        zones.start("flood");

        Path log = STATE.resolve("zones/flood/console.log");
        Path rotated = log.resolveSibling("console.log.1");
        FileTime first = awaitRotation(rotated, null);
        awaitRotation(rotated, first);

        String logs = sh("zone:logs flood");
        assertTrue("zone:logs printed " + logs.length() + " chars", logs.length() <= 4 * (1 << 20) + 200);
        assertTrue(logs, logs.contains("flood-line-from-a-hostile-guest\n\\x1b[2J\\x1b]0;pwned\\x07"));
        assertFalse("no raw escape character reaches the operator", logs.chars().anyMatch(c -> c == 0x1b || c == 7));
        assertTrue("zone:logs shows the rotated generation too: " + logs.length() + " chars",
                logs.length() >= CAP_KIB * 1024 * 9 / 10);
        String last = sh("zone:logs -n 3 flood");
        assertTrue(last, last.split("\n").length <= 3);
        assertTrue(sh("zone:wait --timeout 60 --console flood-line-from-a-hostile-guest flood").contains("printed"));

        long cap = CAP_KIB * 1024L;
        long rotatedSize = Files.size(rotated);
        assertTrue("console.log.1 holds " + rotatedSize + " bytes, over the cap of " + cap, rotatedSize <= cap);
        System.out.println("hostile console: console.log " + Files.size(log) + " bytes, console.log.1 "
                + rotatedSize + " bytes, cap " + cap + ", zone:logs " + logs.length() + " chars");

        assertEquals(ZoneState.STOPPED, zones.stop("flood", Duration.ofSeconds(2)).state());
    }
}

package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static io.zonekeeper.itests.Containers.host;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Hashtable;
import java.util.Set;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.service.cm.ConfigurationAdmin;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneState;

/**
 * Zones on the q35 machine (what zones with PCI functions get) keep everything a microvm zone has: two zones ping
 * each other over a network (virtio-net on PCI), one reads a disk (virtio-blk on PCI), and both power off by their
 * ACPI power button. The KVM driver is configured through ConfigAdmin ({@code machine=q35-pvh}), since no PCI
 * function can be passed through on this host. The JVM runs in a network namespace of its own
 * (src/test/netns/bin/java): every bridge, tap and packet stays inside it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class Q35MachineNetnsIT {
    private static final Path STATE = Containers.newStateDir("q35");

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;
    @Inject
    ConfigurationAdmin config;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.networkAndDisk() };
    }

    @Before
    public void onlyInANamespaceOfOurOwn() throws Exception {
        Containers.assumeOwnNetworkNamespace();
    }

    @After
    public void destroyEverything() throws Exception {
        for (ZoneInfo z : zones.list()) {
            long pid = z.runtime().containsKey("pid") ? Long.parseLong(z.runtime().get("pid")) : -1;
            Containers.run(shell, "zone:destroy " + z.name());
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        Containers.run(shell, "net:destroy q");
        Containers.run(shell, "disk:destroy qdata");
        config.getConfiguration("io.zonekeeper.kvm", "?").delete();
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private String console(String zone) throws Exception {
        Path log = zones.consoleLog(zone);
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }

    @Test
    public void q35ZonesPingEachOtherReadTheirDiskAndPowerOffByTheirButton() throws Exception {
        Hashtable<String, Object> kvm = new Hashtable<>();
        kvm.put("machine", "q35-pvh");
        config.getConfiguration("io.zonekeeper.kvm", "?").update(kvm);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        // driver:info prints each detail as "KEY (padded to 20) VALUE".
        while (!sh("driver:info kvm").contains(String.format("%-20s %s", "machine.least", "q35-pvh"))) {
            assertTrue("the kvm driver took machine=q35-pvh: " + sh("driver:info kvm"), System.nanoTime() < deadline);
            Thread.sleep(100);
        }

        sh("net:create --subnet 10.99.7.0/24 q");
        Path content = Files.createTempDirectory("zk-q35-content");
        Files.writeString(content.resolve("hello.txt"), "hello-from-a-q35-disk\n");
        sh("disk:create --size 16M --from " + content + " qdata");
        Files.delete(content.resolve("hello.txt"));
        Files.delete(content);

        sh("zone:create --hypervisor kvm --networks q=10.99.7.11 --start q1");
        sh("zone:wait --timeout 180 --console 'zonekeeper: zone q1 ready' q1");
        ZoneInfo q1 = zones.get("q1").orElseThrow();
        assertEquals("q35-pvh", q1.runtime().get("machine"));
        assertTrue(console("q1"), console("q1").contains("zonekeeper: eth0 10.99.7.11/24"));

        sh("zone:create --hypervisor kvm --networks q --disks " + STATE.resolve("disks/qdata.img")
                + " --cmdline 'zk.run=\"ping -c 3 -W 5 10.99.7.11; cat /mnt/qdata/hello.txt\"' --start q2");
        ZoneInfo q2 = zones.await("q2", Set.of(ZoneState.STOPPED, ZoneState.CRASHED), Duration.ofSeconds(240));
        String out = console("q2");
        assertEquals(q2.reason() + "\n" + out, ZoneState.STOPPED, q2.state());
        assertTrue("q2 reached q1 over virtio-net-pci:\n" + out, out.contains("bytes from 10.99.7.11"));
        assertTrue("q2 read its virtio-blk-pci disk:\n" + out, out.contains("hello-from-a-q35-disk"));
        assertTrue(out, out.contains("zonekeeper: zone q2 finished, exit 0"));
        System.out.println("q35-pvh zones: q2 to q1 " + out.lines().filter(l -> l.contains("packets transmitted"))
                .findFirst().orElse("?"));

        assertTrue(sh("zone:stop --grace 30 q1").contains("STOPPED"));
        assertTrue("q1 powered off by its ACPI power button:\n" + console("q1"),
                console("q1").contains("zonekeeper: zone q1 powering off"));
        assertFalse(Containers.running(Long.parseLong(q1.runtime().get("pid"))));
    }
}

package io.zonekeeper.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.UUID;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneState;

/**
 * A hostile guest against its own disk, as issue 18 tells it: from inside a real KVM zone it rewrites the start of
 * its raw disk into a qcow2 header whose backing file is a host file, and powers off. At the next start a hypervisor
 * that sniffed the format would open the host file as the disk's backing file, as root. The appliance recorded the
 * disk as raw at disk:create, so the start is refused as tampered and no QEMU runs. No networks, so no namespace.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HostileDiskIT {
    private static final Path STATE = Containers.newStateDir("hostile-disk");

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.networkAndDisk() };
    }

    @After
    public void destroyEverything() {
        Containers.destroyAllZones(zones, shell);
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    private String console(String zone) throws Exception {
        return Containers.console(zones, zone);
    }

    @Test
    public void aGuestThatRewritesItsRawDiskIntoAQcow2WithAHostBackingFileIsRefusedAtItsNextStart() throws Exception {
        Assume.assumeTrue("qemu-img makes the attacker's header", Files.isExecutable(Path.of("/usr/bin/qemu-img")));
        // The host file the attacker wants, and the header it brings along in its disk's files: a real qcow2 image
        // (512-byte clusters, so its first sector holds the header and the backing file's name) naming that file.
        String secret = "host-secret-" + UUID.randomUUID();
        Path hostFile = Files.writeString(Files.createTempDirectory("zk-host-only").resolve("secret"), secret + "\n");
        Path content = Files.createTempDirectory("zk-attacker-files");
        Path evil = content.resolve("evil.qcow2");
        String made = Containers.host("/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512",
                "-b", hostFile.toString(), "-F", "raw", evil.toString(), "1M");
        assertTrue(made, Files.isRegularFile(evil));
        byte[] header = Arrays.copyOf(Files.readAllBytes(evil), 512);
        assertTrue("the backing file's name is in the first sector",
                new String(header, StandardCharsets.ISO_8859_1).contains(hostFile.toString()));

        assertTrue(sh("disk:create --size 16M --from " + content + " victim").contains("(raw,"));
        Path image = STATE.resolve("disks/victim.img");
        // From inside the guest: its one disk is /dev/vda, mounted at /mnt/victim.
        String run = "zk.run=\"dd if=/mnt/victim/evil.qcow2 of=/dev/vda bs=512 count=1 conv=notrunc; sync;"
                + " echo rewrote-$((6*7))\"";
        sh("zone:create --hypervisor kvm --disks " + image + " --cmdline '" + run + "' --start hostile");
        ZoneInfo z = zones.await("hostile", Set.of(ZoneState.STOPPED, ZoneState.CRASHED), Duration.ofSeconds(180));
        String first = console("hostile");
        assertEquals(z.reason() + "\n" + first, ZoneState.STOPPED, z.state());
        assertTrue(first, first.contains("rewrote-42"));
        byte[] now = Arrays.copyOf(Files.readAllBytes(image), 512);
        assertArrayEquals("the guest wrote the header onto its disk", header, now);

        String refused = Containers.run(shell, "zone:start hostile").error();
        assertTrue(refused, refused.contains("disks[0].path: " + image) && refused.contains("is recorded as a raw"
                + " image but now starts with the qcow2 magic") && refused.contains("refused as tampered"));
        ZoneInfo after = zones.get("hostile").orElseThrow();
        assertNotEquals(ZoneState.RUNNING, after.state());
        assertFalse("no QEMU ran: " + after.runtime(), after.runtime().containsKey("pid"));
        assertFalse(Files.exists(STATE.resolve("zones/hostile/qemu.pid")));
        assertEquals("nothing was added to the console", first, console("hostile"));

        // Naming the same image qcow2 does not help: its format was recorded at disk:create.
        sh("zone:create --hypervisor kvm --disks " + image + ":qcow2 renamed");
        String asQcow2 = Containers.run(shell, "zone:start renamed").error();
        assertTrue(asQcow2, asQcow2.contains("is recorded as a raw image, not qcow2"));
        assertFalse(console("renamed").contains(secret));
        assertTrue(sh("disk:list").contains("victim"));
    }

    /** The honest qcow2 path still works: QEMU gets the recorded format and a qcow2 node with no backing chain. */
    @Test
    public void aQcow2DiskMadeByDiskCreateBootsAndKeepsItsFiles() throws Exception {
        Assume.assumeTrue("qemu-img makes qcow2 images", Files.isExecutable(Path.of("/usr/bin/qemu-img")));
        Path content = Files.createTempDirectory("zk-qcow2-files");
        Files.writeString(content.resolve("hello.txt"), "hello-from-a-qcow2\n");
        assertTrue(sh("disk:create --size 16M --format qcow2 --from " + content + " cow").contains("(qcow2,"));
        Path image = STATE.resolve("disks/cow.qcow2");
        sh("zone:create --hypervisor kvm --disks " + image + ":qcow2 --cmdline 'zk.run=\"cat /mnt/cow/hello.txt\"'"
                + " --start reader");
        ZoneInfo z = zones.await("reader", Set.of(ZoneState.STOPPED, ZoneState.CRASHED), Duration.ofSeconds(180));
        String out = console("reader");
        assertEquals(z.reason() + "\n" + out, ZoneState.STOPPED, z.state());
        assertTrue(out, out.contains("hello-from-a-qcow2"));
    }
}

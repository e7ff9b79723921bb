package io.zonekeeper.kvm.qemu;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.Test;

import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedDisk;

public class DiskHandoffTest {
    private static Path image(Path dir, String name) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, new byte[4096]);
        return p.toRealPath();
    }

    @Test
    public void eachDiskIsOpenedAndItsFileNodeReadsItsFdset() throws Exception {
        Path dir = Files.createTempDirectory("zk-handoff");
        PreparedDisk rw = new PreparedDisk("data", image(dir, "data.img").toString(), "raw", false);
        PreparedDisk ro = new PreparedDisk("base", image(dir, "base.qcow2").toString(), "qcow2", true);
        List<String> argv = new ArrayList<>(List.of("qemu-system-x86_64", "-m", "128M"));
        argv.addAll(QemuCommandLine.blockdevs(rw, 0));
        argv.addAll(QemuCommandLine.blockdevs(ro, 1));
        try (DiskHandoff h = DiskHandoff.open(List.of(rw, ro))) {
            List<String> a = h.qemuArgv(argv);
            assertEquals(List.of("qemu-system-x86_64", "-m", "128M", "-add-fd", "fd=3,set=1,opaque=disk0", "-add-fd",
                    "fd=4,set=2,opaque=disk1"), a.subList(0, 7));
            assertEquals("{\"driver\":\"file\",\"node-name\":\"f0\",\"filename\":\"/dev/fdset/1\",\"read-only\":false}",
                    a.get(8));
            assertEquals(argv.get(6), a.get(10));
            assertEquals("{\"driver\":\"file\",\"node-name\":\"f1\",\"filename\":\"/dev/fdset/2\",\"read-only\":true}",
                    a.get(12));
            List<String> r = h.redirections();
            long me = ProcessHandle.current().pid();
            assertTrue(r.toString(), r.get(0).startsWith("3<>/proc/" + me + "/fd/"));
            assertTrue(r.toString(), r.get(1).startsWith("4</proc/" + me + "/fd/"));
            // What the launch shell opens is the checked image itself.
            assertEquals(Path.of(rw.path()), Files.readSymbolicLink(Path.of(r.get(0).substring(3))));
        }
    }

    @Test
    public void aPathThatNoLongerLeadsToTheCheckedFileIsRefused() throws Exception {
        Path dir = Files.createTempDirectory("zk-handoff").toRealPath();
        Path real = image(dir, "data.img");
        Files.createDirectory(dir.resolve("sub"));
        Files.createSymbolicLink(dir.resolve("via"), dir.resolve("sub"));
        Files.write(dir.resolve("sub").resolve("data.img"), new byte[512]);
        // A folder on the checked path became a link: the open reaches another file, which the read-back names.
        PreparedDisk d = new PreparedDisk("data", dir.resolve("via").resolve("data.img").toString(), "raw", false);
        DriverException e = assertThrows(DriverException.class, () -> DiskHandoff.open(List.of(d)));
        assertTrue(e.getMessage(), e.getMessage().contains("changed after it was checked: it now opens "
                + dir.resolve("sub").resolve("data.img")));
        assertEquals(List.of(), DiskHandoff.open(List.of(new PreparedDisk("data", real.toString(), "raw", false)))
                .qemuArgv(List.of()));
    }

    @Test
    public void theEighthDiskKeepsItsPath() throws Exception {
        Path dir = Files.createTempDirectory("zk-handoff");
        List<PreparedDisk> disks = new ArrayList<>();
        List<String> argv = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            disks.add(new PreparedDisk("d" + i, image(dir, "d" + i + ".img").toString(), "raw", false));
            argv.addAll(QemuCommandLine.blockdevs(disks.get(i), i));
        }
        try (DiskHandoff h = DiskHandoff.open(disks)) {
            assertEquals(DiskHandoff.MAX_DISKS, h.count());
            List<String> a = h.qemuArgv(argv);
            assertTrue(a.toString(), a.contains("fd=9,set=7,opaque=disk6"));
            assertTrue(a.toString(), a.contains(argv.get(29)));
            assertTrue(argv.get(29), argv.get(29).contains(disks.get(7).path()));
        }
    }
}

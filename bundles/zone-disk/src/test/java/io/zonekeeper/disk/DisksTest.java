package io.zonekeeper.disk;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.junit.Assume;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PreparedResources;

public class DisksTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path state;
    private Path shared;
    private Path outside;
    private Disks disks;

    @Before
    public void setUp() throws Exception {
        state = tmp.newFolder("state").toPath();
        shared = tmp.newFolder("shared").toPath();
        outside = tmp.newFolder("outside").toPath();
        disks = new Disks(state, List.of(shared), "mke2fs", "qemu-img");
        Files.createDirectories(state.resolve("disks"));
    }

    private static ZoneSpec zone(String name, DiskSpec... d) {
        ZoneSpec.Builder b = ZoneSpec.builder(name);
        for (DiskSpec x : d) {
            b.disk(x);
        }
        return b.build();
    }

    private Path image(Path dir, String name) throws Exception {
        return Files.write(dir.resolve(name), new byte[4096]);
    }

    private void refused(String expected, ThrowingRunnable r) throws Exception {
        List<DiskLock> before = disks.locks();
        try {
            r.run();
            fail("should have been refused: " + expected);
        } catch (DiskException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
        assertEquals("nothing changed", before, disks.locks());
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    public void imagesInsideTheAllowedFoldersAreAcceptedByRealPath() throws Exception {
        Path a = image(state.resolve("disks"), "a.img");
        Path b = image(shared, "b.img");
        assertEquals(a.toRealPath(), disks.confine(a.toString()));
        assertEquals(b.toRealPath(), disks.confine(shared + "/../shared/b.img"));
    }

    @Test
    public void aPathOutsideTheAllowedFoldersIsRefusedEvenThroughASymlink() throws Exception {
        Path secret = image(outside, "secret.img");
        refused("is outside the folders", () -> disks.confine(secret.toString()));
        Path link = Files.createSymbolicLink(state.resolve("disks/innocent.img"), secret);
        refused("(really " + secret.toRealPath() + ") is outside", () -> disks.confine(link.toString()));
        Path dirLink = Files.createSymbolicLink(shared.resolve("escape"), outside);
        refused("is outside", () -> disks.confine(dirLink + "/secret.img"));
        refused("is outside", () -> disks.confine(shared + "/../outside/secret.img"));
        refused("does not exist", () -> disks.confine(shared + "/none.img"));
        refused("disks[0].path", () -> disks.prepare(UUID.randomUUID(), zone("z",
                new DiskSpec(link.toString(), "raw", false))));
    }

    @Test
    public void aPathWithACommaIsAcceptedHereBecauseOnlyADriverKnowsWhatItsHypervisorCannotCarry() throws Exception {
        // A spec's path has no comma (ZoneSpec refuses one), but the image it links to may.
        Path a = image(shared, "a,b.img");
        Path link = Files.createSymbolicLink(shared.resolve("link.img"), a);
        PreparedResources r = disks.prepare(UUID.randomUUID(), zone("web", new DiskSpec(link.toString(), "raw",
                false)));
        assertEquals(a.toRealPath().toString(), r.disks().get(0).path());
        assertEquals("a-b", r.disks().get(0).name());
    }

    @Test
    public void aDiskIsLockedReadWriteByOneZoneAndTheHolderIsNamed() throws Exception {
        Path a = image(shared, "data.img");
        UUID web = UUID.randomUUID();
        PreparedResources r = disks.prepare(web, zone("web", new DiskSpec(a.toString(), "raw", false)));
        assertEquals("data", r.disks().get(0).name());
        assertEquals(1, disks.locks().size());
        assertEquals("web", disks.locks().get(0).zone());

        refused("is in use: attached read-write to zone web", () -> disks.prepare(UUID.randomUUID(),
                zone("db", new DiskSpec(a.toString(), "raw", false))));
        refused("zone web", () -> disks.prepare(UUID.randomUUID(), zone("db", new DiskSpec(a.toString(), "raw",
                true))));
        assertEquals(List.of(), disks.orphans(Set.of(web)));
        assertEquals(1, disks.orphans(Set.of()).size());

        // The lock is a file: a new appliance sees it.
        Disks again = new Disks(state, List.of(shared), "mke2fs", "qemu-img");
        assertEquals("web", again.locks().get(0).zone());

        disks.release(web);
        assertEquals(List.of(), disks.locks());
        disks.prepare(UUID.randomUUID(), zone("db", new DiskSpec(a.toString(), "raw", false)));
    }

    @Test
    public void releasingOrphansGivesBackLocksOfUnknownZonesOnly() throws Exception {
        UUID stopped = UUID.randomUUID();
        UUID unknown = UUID.randomUUID();
        UUID running = UUID.randomUUID();
        disks.prepare(stopped, zone("stopped", new DiskSpec(image(shared, "s.img").toString(), "raw", false)));
        Path u = image(shared, "u.img");
        disks.prepare(unknown, zone("gone", new DiskSpec(u.toString(), "raw", false)));
        disks.prepare(running, zone("running", new DiskSpec(image(shared, "r.img").toString(), "raw", false)));
        assertEquals(2, disks.orphans(Set.of(running)).size());

        List<String> lines = disks.releaseOrphans(Set.of(running), Set.of(stopped, running));
        assertEquals(lines.toString(), 2, lines.size());
        assertTrue(lines.toString(), lines.contains("released: read-write lock on " + u.toRealPath() + " of zone gone ("
                + unknown + ")"));
        assertTrue(lines.toString(), lines.stream().anyMatch(l -> l.startsWith("kept: ") && l.contains("stopped")));
        assertEquals(Set.of("stopped", "running"), disks.locks().stream().map(DiskLock::zone)
                .collect(java.util.stream.Collectors.toSet()));
        disks.prepare(UUID.randomUUID(), zone("next", new DiskSpec(u.toString(), "raw", false)));
    }

    @Test
    public void readOnlyDisksTakeNoLockAndAWrongFormatIsRefused() throws Exception {
        Path a = image(shared, "ro.img");
        disks.prepare(UUID.randomUUID(), zone("x", new DiskSpec(a.toString(), "raw", true)));
        disks.prepare(UUID.randomUUID(), zone("y", new DiskSpec(a.toString(), "raw", true)));
        assertEquals(List.of(), disks.locks());
        refused("disks[0].format: " + a + " is recorded as a raw image, not qcow2",
                () -> disks.prepare(UUID.randomUUID(), zone("z", new DiskSpec(a.toString(), "qcow2", false))));
    }

    /** A qcow2 header as the qcow2 spec lays it out: magic, version, backing file offset and size, features. */
    private static byte[] qcow2Header(int version, long backingOffset, int backingSize, long incompatible) {
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(4096);
        h.put(ImageHeader.QCOW2_MAGIC).putInt(version).putLong(backingOffset).putInt(backingSize);
        h.putLong(72, incompatible);
        return h.array();
    }

    @Test
    public void theFormatIsRecordedAtTheFirstAttachAndARawImageThatNowLooksLikeQcow2IsRefusedAsTampered()
            throws Exception {
        Path a = image(shared, "guest.img");
        UUID z = UUID.randomUUID();
        disks.prepare(z, zone("web", new DiskSpec(a.toString(), "raw", false)));
        disks.release(z);
        assertEquals(java.util.Optional.of("raw"), disks.recordedFormat(a.toRealPath()));
        // What a guest can do to its own raw disk: write a qcow2 header naming a host file as its backing file.
        byte[] hostile = qcow2Header(3, 0x200, 11, 0);
        System.arraycopy("/etc/shadow".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, hostile, 0x200, 11);
        Files.write(a, hostile);
        refused("disks[0].path: " + a + " is recorded as a raw image but now starts with the qcow2 magic",
                () -> disks.prepare(z, zone("web", new DiskSpec(a.toString(), "raw", false))));
        refused("refused as tampered; nothing was started: restore the image from a backup, or disk:destroy",
                () -> disks.prepare(z, zone("web", new DiskSpec(a.toString(), "raw", true))));
        // Naming it qcow2 now does not help: the record says raw.
        refused("is recorded as a raw image, not qcow2",
                () -> disks.prepare(z, zone("web", new DiskSpec(a.toString(), "qcow2", false))));
        assertEquals(java.util.Optional.of("raw"), disks.recordedFormat(a.toRealPath()));
    }

    @Test
    public void aQcow2ImageThatWouldOpenAnotherFileIsRefused() throws Exception {
        Path backed = Files.write(shared.resolve("backed.qcow2"), qcow2Header(3, 0x200, 11, 0));
        refused("disks[0].path: " + backed + " is a qcow2 image whose header names a backing file "
                + "(backing_file_offset 512, backing_file_size 11)",
                () -> disks.prepare(UUID.randomUUID(), zone("a", new DiskSpec(backed.toString(), "qcow2", true))));
        Path external = Files.write(shared.resolve("external.qcow2"), qcow2Header(3, 0, 0, 1L << 2));
        refused("external data file",
                () -> disks.prepare(UUID.randomUUID(), zone("b", new DiskSpec(external.toString(), "qcow2", true))));
        Path notQcow2 = image(shared, "plain.qcow2");
        refused("is recorded as qcow2 but has no qcow2 header",
                () -> disks.prepare(UUID.randomUUID(), zone("c", new DiskSpec(notQcow2.toString(), "qcow2", true))));
        assertEquals("a refused image gets no record", java.util.Optional.empty(),
                disks.recordedFormat(backed.toRealPath()));
        Path fine = Files.write(shared.resolve("fine.qcow2"), qcow2Header(3, 0, 0, 0));
        disks.prepare(UUID.randomUUID(), zone("d", new DiskSpec(fine.toString(), "qcow2", true)));
        assertEquals(java.util.Optional.of("qcow2"), disks.recordedFormat(fine.toRealPath()));
    }

    @Test
    public void sizesParse() throws Exception {
        assertEquals(64L << 20, Disks.parseSize("64M"));
        assertEquals(1L << 30, Disks.parseSize("1GiB"));
        refused("not a size", () -> Disks.parseSize("lots"));
        refused("less than", () -> Disks.parseSize("10K"));
    }

    @Test
    public void createMakesAnExt4ImageFromAFolderWithoutMountingAndDestroyRemovesIt() throws Exception {
        Assume.assumeTrue("mke2fs is installed", Files.isExecutable(Path.of("/usr/sbin/mke2fs"))
                || Files.isExecutable(Path.of("/sbin/mke2fs")));
        Path content = tmp.newFolder("content").toPath();
        Files.writeString(content.resolve("hello.txt"), "hi\n");
        DiskImage d = disks.create("data", "8M", content.toString(), "raw");
        assertEquals(8L << 20, d.bytes());
        assertEquals("raw", d.format());
        assertNull(d.lock());
        byte[] sb = new byte[2];
        try (var ch = java.nio.channels.FileChannel.open(d.path())) {
            ch.read(java.nio.ByteBuffer.wrap(sb), 1024 + 0x38);
        }
        assertEquals("ext4 superblock magic", 0xEF53, (sb[0] & 0xff) | (sb[1] & 0xff) << 8);
        refused("exists already", () -> disks.create("data", "8M", null, "raw"));
        refused("--format", () -> disks.create("other", "8M", null, "vmdk"));
        UUID z = UUID.randomUUID();
        disks.prepare(z, zone("web", new DiskSpec(d.path().toString(), "raw", false)));
        refused("in use: attached read-write to zone web", () -> disks.destroy("data", List.of()));
        disks.release(z);
        refused("named by zone(s) web", () -> disks.destroy("data", List.of("web")));
        Path made = d.path().toRealPath();
        assertTrue("disk:create recorded the format", Files.exists(disks.formatFile(made)));
        disks.destroy("data", List.of());
        assertTrue(disks.list().isEmpty());
        assertTrue("disk:destroy removed the record", !Files.exists(disks.formatFile(made)));
        if (Files.isExecutable(Path.of("/usr/bin/qemu-img"))) {
            DiskImage q = disks.create("q", "8M", content.toString(), "qcow2");
            assertEquals("qcow2", q.format());
            assertTrue(q.path().toString().endsWith("q.qcow2"));
        }
        try (var s = Files.list(state.resolve("disks"))) {
            assertTrue("no temp files left", s.noneMatch(p -> p.getFileName().toString().startsWith(".")));
        }
    }

    /**
     * A mke2fs that hangs, its child holding the output open: killed at the timeout, with an error that says so,
     * and nothing made; a runner that read the output to its end first would wait the child's 60 s.
     */
    @Test
    public void aHungMke2fsIsKilledAtItsTimeoutAndNoImageIsMade() throws Exception {
        Path mke2fs = tmp.newFolder("bin").toPath().resolve("mke2fs");
        Files.writeString(mke2fs, "#!/bin/sh\nsleep 60 &\nwait\n");
        Files.setPosixFilePermissions(mke2fs, PosixFilePermissions.fromString("rwx------"));
        Disks hung = new Disks(state, List.of(shared), mke2fs.toString(), "qemu-img", Duration.ofSeconds(1));
        try {
            hung.create("data", "8M", null, "raw");
            fail("a hung mke2fs must not be waited for");
        } catch (DiskException e) {
            String raw = state.resolve("disks/.data.raw.tmp").toString();
            assertEquals("disk data could not be made: " + mke2fs + " -q -F -t ext4 -L data " + raw
                    + " 8192k did not finish within 1 s and was killed", e.getMessage());
        }
        try (var s = Files.list(state.resolve("disks"))) {
            assertEquals("no image, no temp file", List.of(), s.toList());
        }
    }
}

package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

import org.junit.Assume;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Where a loaded kernel ends, from an ELF64 vmlinux's program headers and a bzImage's setup header, and the memory
 * floor it gives; kernel files that are neither, or lie, have no footprint.
 */
public class KernelFootprintTest {
    private static final long MIB = 1024 * 1024;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** An ELF64 little-endian header with {@code phdrs} program headers of {type, paddr, memsz} right after it. */
    private Path elf(long[]... phdrs) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64 + 56 * phdrs.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1);
        b.putLong(0x20, 64).putShort(0x36, (short) 56).putShort(0x38, (short) phdrs.length);
        for (int i = 0; i < phdrs.length; i++) {
            int at = 64 + 56 * i;
            b.putInt(at, (int) phdrs[i][0]);
            b.putLong(at + 16, 0xffffffff80000000L + phdrs[i][1]); // p_vaddr: ignored
            b.putLong(at + 24, phdrs[i][1]);
            b.putLong(at + 32, phdrs[i][2] / 2); // p_filesz: smaller, as with bss
            b.putLong(at + 40, phdrs[i][2]);
        }
        return write("vmlinux", b.array());
    }

    private Path bzImage(int protocol, long prefAddress, long initSize) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(0x400).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x202, 0x53726448).putShort(0x206, (short) protocol);
        b.putLong(0x258, prefAddress).putInt(0x260, (int) initSize);
        return write("vmlinuz", b.array());
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = tmp.getRoot().toPath().resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    public void vmlinuxEndsWhereItsHighestLoadableSegmentEndsBssIncluded() throws Exception {
        // Debian 6.1's layout: text at 16 MiB, ..., the last segment (init and bss) ending at 74 MiB; a NOTE above
        // everything is not loaded.
        Path k = elf(new long[] {1, 0x1000000, 0x18eacdc}, new long[] {1, 0x2a00000, 0x644000},
                new long[] {4, 0x9000000, 0x1000}, new long[] {1, 0x3079000, 0x1987000});
        assertEquals(OptionalLong.of(74 * MIB), KernelFootprint.loadedEnd(k));
    }

    @Test
    public void bzImageEndsAtItsPreferredAddressPlusInitSize() throws Exception {
        assertEquals(OptionalLong.of(0x1000000 + 0x3f98000L),
                KernelFootprint.loadedEnd(bzImage(0x020f, 0x1000000, 0x3f98000)));
        // Boot protocol before 2.10 has no init_size: unknown.
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(bzImage(0x0209, 0x1000000, 0x3f98000)));
    }

    @Test
    public void floorCountsTheKernelTheInitramfsTwiceAndWhatTheKernelNeedsToRun() throws Exception {
        Path k = elf(new long[] {1, 0x1000000, 74 * MIB - 0x1000000});
        Path initramfs = write("initramfs.cpio", new byte[(int) (5 * MIB + MIB / 2)]);
        // 74 + 2 x 5.5 + 6 = 91 MiB.
        assertEquals(OptionalLong.of(74 + 11 + KernelFootprint.RUNNING_MIB),
                KernelFootprint.floorMiB(k, initramfs));
        // Part of a MiB rounds up; no initramfs counts nothing.
        Path odd = elf(new long[] {1, 0x1000000, 58 * MIB + 1});
        assertEquals(OptionalLong.of(74 + 1 + KernelFootprint.RUNNING_MIB), KernelFootprint.floorMiB(odd, null));
    }

    @Test
    public void tooLittleNamesTheKernelAndTheFloorOnlyBelowIt() throws Exception {
        Path k = elf(new long[] {1, 0x1000000, 58 * MIB});
        long floor = 74 + KernelFootprint.RUNNING_MIB;
        assertEquals(java.util.Optional.of((floor - 1) + " MiB is less than kernel vmlinuz-x and its initramfs take"
                + " before the kernel can run (the loaded kernel, the initramfs and its unpacked copy, "
                + KernelFootprint.RUNNING_MIB + " MiB to run): give the zone at least " + floor + " MiB"),
                KernelFootprint.tooLittle((int) floor - 1, "vmlinuz-x", k, null));
        assertEquals(java.util.Optional.empty(), KernelFootprint.tooLittle((int) floor, "vmlinuz-x", k, null));
        // No footprint, or no file: nothing to say.
        assertEquals(java.util.Optional.empty(), KernelFootprint.tooLittle(1, "x", write("zeros", new byte[64]), null));
        assertEquals(java.util.Optional.empty(), KernelFootprint.tooLittle(1, "x", tmp.getRoot().toPath()
                .resolve("missing"), null));
    }

    @Test
    public void filesThatAreNoKernelOrLieHaveNoFootprint() throws Exception {
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(write("empty", new byte[0])));
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(write("text", "#!/bin/sh\n".getBytes())));
        assertEquals(OptionalLong.empty(), KernelFootprint.floorMiB(write("zeros", new byte[4096]), null));
        // No loadable segment at all.
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(elf(new long[] {4, 0x1000, 0x1000})));
        // A segment past 1 TiB, or one whose size is negative as a signed number: nonsense, not a huge kernel.
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(elf(new long[] {1, 1L << 41, 0x1000})));
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(elf(new long[] {1, 0x1000000, -1})));
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(bzImage(0x020f, -4096, 0x1000)));
        // Program headers said to lie beyond the file's end, or cut short.
        Path k = elf(new long[] {1, 0x1000000, 0x1000}, new long[] {1, 0x2000000, 0x1000});
        byte[] whole = Files.readAllBytes(k);
        ByteBuffer far = ByteBuffer.wrap(whole.clone()).order(ByteOrder.LITTLE_ENDIAN);
        far.putLong(0x20, 1L << 40);
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(write("far", far.array())));
        byte[] cut = java.util.Arrays.copyOf(whole, whole.length - 10);
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(write("cut", cut)));
        // A 32-bit ELF is not a kernel a zone boots through PVH here.
        ByteBuffer elf32 = ByteBuffer.wrap(whole.clone());
        elf32.put(4, (byte) 1);
        assertEquals(OptionalLong.empty(), KernelFootprint.loadedEnd(write("elf32", elf32.array())));
    }

    @Test
    public void theHostsOwnKernelHasAFootprintAboveItsLoadAddress() throws Exception {
        Path boot = Path.of("/boot");
        Assume.assumeTrue("no /boot/vmlinuz-* on this host", Files.isDirectory(boot));
        Path newest;
        try {
            newest = KernelFiles.newest(boot);
        } catch (IOException e) {
            newest = null;
        }
        Assume.assumeTrue("no /boot/vmlinuz-* on this host", newest != null && Files.isRegularFile(newest));
        OptionalLong end = KernelFootprint.loadedEnd(newest);
        assertTrue(newest + " has a footprint", end.isPresent());
        // Loaded at 16 MiB (or wherever it prefers) and larger than its compressed file.
        assertTrue(newest + " ends at " + end.getAsLong(), end.getAsLong() > 16 * MIB + Files.size(newest));
    }
}

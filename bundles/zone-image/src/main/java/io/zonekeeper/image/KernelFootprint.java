package io.zonekeeper.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * How much of a zone's memory its kernel and initramfs take before the kernel can run anything, and so the least
 * memory a zone booting them can have. A zone given less never prints its ready line: Debian's 6.1 kernel, once
 * loaded, reaches 74 MiB into guest memory (it is loaded at 16 MiB and its segments, bss included, span 58 MiB), so
 * with the 5.5 MiB zone initramfs it panicked out of memory in 90 MiB and booted in 92 MiB (2026-12-03, TCG).
 *
 * <p>The floor is a lower bound, never a promise that the zone boots: the end of the loaded kernel, the initramfs
 * twice (QEMU puts the archive in guest memory and the kernel unpacks it into its root file system beside it), and
 * {@value #RUNNING_MIB} MiB for the kernel's own allocations. For Debian's kernel and the zone initramfs that is 92
 * MiB, the least that booted; more vCPUs, more modules or a compressed initramfs (it unpacks to more than it counts)
 * need more, so the real need can only be higher.
 *
 * <p>The kernel file is the operator's, read only for a few header fields and checked before use: an image that is
 * neither an ELF64 vmlinux nor a bzImage, or whose fields make no sense, has no known footprint and gets no floor.
 */
public final class KernelFootprint {
    /** What the kernel needs beyond its image and its initramfs to get to the init, at the least. */
    public static final int RUNNING_MIB = 6;
    private static final long MIB = 1024 * 1024;
    /** Beyond this a field is taken as nonsense rather than as a kernel that needs it. */
    private static final long MAX_SANE_END = 1L << 40;
    private static final int PT_LOAD = 1;
    private static final int ELF64_PHDR_SIZE = 56;
    private static final int MAX_PHDRS = 128;
    private static final int HDRS = 0x53726448; // "HdrS": the x86 boot protocol's setup header
    private static final int BOOT_PROTOCOL_WITH_INIT_SIZE = 0x020a;

    private KernelFootprint() {
    }

    /**
     * The guest-physical address where the loaded {@code kernel} ends, in bytes: for an ELF64 vmlinux (booted through
     * PVH) the end of its highest loadable segment, bss included; for a bzImage its preferred load address plus the
     * memory it says it needs to decompress and run ({@code pref_address + init_size}, boot protocol 2.10 and later).
     * Empty when the file is neither, or its fields make no sense.
     */
    public static OptionalLong loadedEnd(Path kernel) throws IOException {
        try (FileChannel ch = FileChannel.open(kernel)) {
            ByteBuffer head = read(ch, 0, 0x270);
            if (head.limit() >= 64 && head.getInt(0) == 0x464c457f) { // "\x7fELF"
                return elf64End(ch, head);
            }
            if (head.limit() >= 0x268 && head.getInt(0x202) == HDRS
                    && Short.toUnsignedInt(head.getShort(0x206)) >= BOOT_PROTOCOL_WITH_INIT_SIZE) {
                long pref = head.getLong(0x258);
                long initSize = Integer.toUnsignedLong(head.getInt(0x260));
                return sane(pref, initSize);
            }
            return OptionalLong.empty();
        }
    }

    /**
     * The least memory, in MiB, a zone booting {@code kernel} with {@code initramfs} (null: none) can have; empty when
     * the kernel's footprint is not known.
     */
    public static OptionalLong floorMiB(Path kernel, Path initramfs) throws IOException {
        OptionalLong end = loadedEnd(kernel);
        if (end.isEmpty()) {
            return OptionalLong.empty();
        }
        long archive = initramfs == null ? 0 : Files.size(initramfs);
        long bytes = end.getAsLong() + 2 * archive + RUNNING_MIB * MIB;
        return OptionalLong.of((bytes + MIB - 1) / MIB);
    }

    /**
     * Why {@code memoryMiB} is too little for {@code booted} (the file the hypervisor boots) and {@code initramfs},
     * naming the kernel as {@code named} (as the operator knows it) and the floor; empty when it is enough, or when the
     * kernel's footprint cannot be read (then the hypervisor has the last word).
     */
    public static java.util.Optional<String> tooLittle(int memoryMiB, Object named, Path booted, Path initramfs) {
        OptionalLong floor;
        try {
            floor = floorMiB(booted, initramfs);
        } catch (IOException e) {
            return java.util.Optional.empty();
        }
        if (floor.isEmpty() || memoryMiB >= floor.getAsLong()) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(memoryMiB + " MiB is less than kernel " + named + " and its initramfs take before"
                + " the kernel can run (the loaded kernel, the initramfs and its unpacked copy, " + RUNNING_MIB
                + " MiB to run): give the zone at least " + floor.getAsLong() + " MiB");
    }

    private static OptionalLong elf64End(FileChannel ch, ByteBuffer head) throws IOException {
        if (head.get(4) != 2 || head.get(5) != 1) { // ELFCLASS64, little-endian
            return OptionalLong.empty();
        }
        long phoff = head.getLong(0x20);
        int phentsize = Short.toUnsignedInt(head.getShort(0x36));
        int phnum = Short.toUnsignedInt(head.getShort(0x38));
        if (phentsize != ELF64_PHDR_SIZE || phnum == 0 || phnum > MAX_PHDRS || phoff < 64 || phoff > ch.size()) {
            return OptionalLong.empty();
        }
        ByteBuffer ph = read(ch, phoff, phnum * ELF64_PHDR_SIZE);
        if (ph.limit() < phnum * ELF64_PHDR_SIZE) {
            return OptionalLong.empty();
        }
        long end = -1;
        for (int i = 0; i < phnum; i++) {
            int at = i * ELF64_PHDR_SIZE;
            if (ph.getInt(at) != PT_LOAD) {
                continue;
            }
            OptionalLong segmentEnd = sane(ph.getLong(at + 24), ph.getLong(at + 40)); // p_paddr, p_memsz
            if (segmentEnd.isEmpty()) {
                return OptionalLong.empty();
            }
            end = Math.max(end, segmentEnd.getAsLong());
        }
        return end < 0 ? OptionalLong.empty() : OptionalLong.of(end);
    }

    private static OptionalLong sane(long start, long size) {
        if (start < 0 || size < 0 || start >= MAX_SANE_END || size >= MAX_SANE_END) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(start + size);
    }

    private static ByteBuffer read(FileChannel ch, long at, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) {
                break;
            }
        }
        return b.flip();
    }
}

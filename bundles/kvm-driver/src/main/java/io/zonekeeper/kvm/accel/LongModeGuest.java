package io.zonekeeper.kvm.accel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The smallest guest that proves a vCPU really runs 64-bit code: identity-mapped 2 MiB page, flat GDT, and four
 * instructions. {@code movabs} loads a 64-bit constant, {@code shr} moves its upper half down (only a 64-bit CPU
 * gets the expected value), {@code out} writes it to {@link #PROBE_PORT}, {@code hlt} stops.
 *
 * <p>Pure data: it builds byte images and register blocks in the kvm.h layout; {@link KvmIoctlSelfTest} copies
 * them into the VM.
 */
final class LongModeGuest {

    static final long MEMORY_SIZE = 2L << 20;
    static final long PML4_ADDR = 0x1000;
    static final long PDPT_ADDR = 0x2000;
    static final long PD_ADDR = 0x3000;
    static final long GDT_ADDR = 0x4000;
    static final long CODE_ADDR = 0x8000;
    static final long STACK_TOP = MEMORY_SIZE;

    static final int PROBE_PORT = 0xE9;
    static final long MAGIC = 0x1234_5678_9ABC_DEF0L;
    static final int EXPECTED_VALUE = (int) (MAGIC >>> 32);

    static final int CODE_SELECTOR = 0x08;
    static final int DATA_SELECTOR = 0x10;

    // page-table entry bits
    static final long PTE_PRESENT = 1L;
    static final long PTE_WRITABLE = 1L << 1;
    static final long PTE_HUGE = 1L << 7;

    // control-register bits
    static final long CR0_PE = 1L;
    static final long CR0_MP = 1L << 1;
    static final long CR0_ET = 1L << 4;
    static final long CR0_NE = 1L << 5;
    static final long CR0_WP = 1L << 16;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    static final long EFER_LME = 1L << 8;
    static final long EFER_LMA = 1L << 10;

    // GDT descriptors: flat 4 GiB, granularity 4 KiB; code has L=1 (64-bit), data is read/write
    static final long GDT_CODE64 = 0x00AF_9A00_0000_FFFFL;
    static final long GDT_DATA = 0x00CF_9200_0000_FFFFL;

    private LongModeGuest() {
    }

    /** movabs rax, MAGIC; shr rax, 32; mov dx, PROBE_PORT; out dx, eax; hlt */
    static byte[] code() {
        ByteBuffer b = le(ByteBuffer.allocate(2 + 8 + 4 + 4 + 1 + 1));
        b.put((byte) 0x48).put((byte) 0xB8).putLong(MAGIC);
        b.put((byte) 0x48).put((byte) 0xC1).put((byte) 0xE8).put((byte) 32);
        b.put((byte) 0x66).put((byte) 0xBA).putShort((short) PROBE_PORT);
        b.put((byte) 0xEF);
        b.put((byte) 0xF4);
        return b.array();
    }

    /** Guest-physical bytes from address 0 up to the end of the code; the rest of guest memory stays zero. */
    static byte[] image() {
        byte[] code = code();
        ByteBuffer mem = le(ByteBuffer.allocate((int) CODE_ADDR + code.length));
        mem.putLong((int) PML4_ADDR, PDPT_ADDR | PTE_PRESENT | PTE_WRITABLE);
        mem.putLong((int) PDPT_ADDR, PD_ADDR | PTE_PRESENT | PTE_WRITABLE);
        mem.putLong((int) PD_ADDR, 0L | PTE_PRESENT | PTE_WRITABLE | PTE_HUGE);
        mem.putLong((int) GDT_ADDR, 0L);
        mem.putLong((int) GDT_ADDR + CODE_SELECTOR, GDT_CODE64);
        mem.putLong((int) GDT_ADDR + DATA_SELECTOR, GDT_DATA);
        mem.put((int) CODE_ADDR, code);
        return mem.array();
    }

    static int gdtLimit() {
        return 3 * 8 - 1;
    }

    /**
     * Turns the vCPU's reset-state kvm_sregs (as read by KVM_GET_SREGS) into long mode. TR, LDT and IDT keep
     * KVM's reset values, which already pass VM-entry checks.
     */
    static void patchSregs(ByteBuffer sregs) {
        le(sregs);
        segment(sregs, KvmAbi.SREGS_CS, CODE_SELECTOR, 0xB, true);
        for (int seg : new int[] {KvmAbi.SREGS_DS, KvmAbi.SREGS_ES, KvmAbi.SREGS_FS, KvmAbi.SREGS_GS, KvmAbi.SREGS_SS}) {
            segment(sregs, seg, DATA_SELECTOR, 0x3, false);
        }
        sregs.putLong(KvmAbi.SREGS_GDT, GDT_ADDR);
        sregs.putShort(KvmAbi.SREGS_GDT + 8, (short) gdtLimit());
        sregs.putLong(KvmAbi.SREGS_CR0, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG);
        sregs.putLong(KvmAbi.SREGS_CR3, PML4_ADDR);
        sregs.putLong(KvmAbi.SREGS_CR4, CR4_PAE);
        sregs.putLong(KvmAbi.SREGS_EFER, EFER_LME | EFER_LMA);
    }

    private static void segment(ByteBuffer sregs, int at, int selector, int type, boolean code) {
        sregs.putLong(at + KvmAbi.SEG_BASE, 0L);
        sregs.putInt(at + KvmAbi.SEG_LIMIT, 0xFFFF_FFFF);
        sregs.putShort(at + KvmAbi.SEG_SELECTOR, (short) selector);
        sregs.put(at + KvmAbi.SEG_TYPE, (byte) type);
        sregs.put(at + KvmAbi.SEG_PRESENT, (byte) 1);
        sregs.put(at + KvmAbi.SEG_DPL, (byte) 0);
        sregs.put(at + KvmAbi.SEG_DB, (byte) (code ? 0 : 1)); // a 64-bit code segment must have D=0
        sregs.put(at + KvmAbi.SEG_S, (byte) 1);
        sregs.put(at + KvmAbi.SEG_L, (byte) (code ? 1 : 0));
        sregs.put(at + KvmAbi.SEG_G, (byte) 1);
        sregs.put(at + KvmAbi.SEG_AVL, (byte) 0);
        sregs.put(at + KvmAbi.SEG_UNUSABLE, (byte) 0);
    }

    /** kvm_regs with RIP at the code, RSP at the top of guest memory and only the reserved RFLAGS bit set. */
    static byte[] regs() {
        ByteBuffer r = le(ByteBuffer.allocate(KvmAbi.SIZEOF_REGS));
        r.putLong(KvmAbi.REGS_RIP, CODE_ADDR);
        r.putLong(KvmAbi.REGS_RSP, STACK_TOP);
        r.putLong(KvmAbi.REGS_RFLAGS, 0x2L);
        return r.array();
    }

    /** What kvm_run says about a KVM_EXIT_IO. */
    record IoExit(int direction, int size, int port, int count, long value) {

        static IoExit read(ByteBuffer run) {
            le(run);
            int direction = Byte.toUnsignedInt(run.get(KvmAbi.RUN_IO_DIRECTION));
            int size = Byte.toUnsignedInt(run.get(KvmAbi.RUN_IO_SIZE));
            int port = Short.toUnsignedInt(run.getShort(KvmAbi.RUN_IO_PORT));
            int count = run.getInt(KvmAbi.RUN_IO_COUNT);
            int dataOffset = (int) run.getLong(KvmAbi.RUN_IO_DATA_OFFSET);
            long value;
            if (dataOffset < 0 || dataOffset + size > run.capacity()) {
                value = -1;
            } else {
                value = switch (size) {
                    case 1 -> Byte.toUnsignedLong(run.get(dataOffset));
                    case 2 -> Short.toUnsignedLong(run.getShort(dataOffset));
                    case 4 -> Integer.toUnsignedLong(run.getInt(dataOffset));
                    default -> -1;
                };
            }
            return new IoExit(direction, size, port, count, value);
        }

        /** Null when this is the write the guest code makes, else what differs. */
        String mismatch() {
            if (direction != KvmAbi.KVM_EXIT_IO_OUT) {
                return "direction " + direction + ", expected out";
            }
            if (port != PROBE_PORT) {
                return String.format("port 0x%x, expected 0x%x", port, PROBE_PORT);
            }
            if (size != 4 || count != 1) {
                return "size " + size + " count " + count + ", expected one 4-byte write";
            }
            if (value != Integer.toUnsignedLong(EXPECTED_VALUE)) {
                return String.format("value 0x%x, expected 0x%x", value, EXPECTED_VALUE);
            }
            return null;
        }

        @Override
        public String toString() {
            return String.format("out port 0x%x size %d count %d value 0x%x", port, size, count, value);
        }
    }

    private static ByteBuffer le(ByteBuffer b) {
        return b.order(ByteOrder.LITTLE_ENDIAN);
    }
}

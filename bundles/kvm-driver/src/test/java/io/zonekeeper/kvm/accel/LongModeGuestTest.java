package io.zonekeeper.kvm.accel;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.junit.Test;

public class LongModeGuestTest {

    private static final ByteBuffer IMAGE = ByteBuffer.wrap(LongModeGuest.image()).order(ByteOrder.LITTLE_ENDIAN);

    /** Walks the guest's 4-level page tables the way the CPU does and returns the physical address. */
    private static long translate(long virt) {
        long cr3 = LongModeGuest.PML4_ADDR;
        long pml4e = entry(cr3, (virt >>> 39) & 0x1FF);
        assertTrue("PML4E present", (pml4e & 1) != 0);
        long pdpte = entry(pml4e & 0x000F_FFFF_FFFF_F000L, (virt >>> 30) & 0x1FF);
        assertTrue("PDPTE present", (pdpte & 1) != 0);
        long pde = entry(pdpte & 0x000F_FFFF_FFFF_F000L, (virt >>> 21) & 0x1FF);
        assertTrue("PDE present", (pde & 1) != 0);
        assertTrue("PDE maps a 2 MiB page", (pde & LongModeGuest.PTE_HUGE) != 0);
        return (pde & 0x000F_FFFF_FFE0_0000L) | (virt & 0x1F_FFFFL);
    }

    private static long entry(long table, long index) {
        long at = table + index * 8;
        return at + 8 <= IMAGE.capacity() ? IMAGE.getLong((int) at) : 0;
    }

    @Test
    public void pageTablesIdentityMapTheFirstTwoMegabytes() {
        assertEquals(LongModeGuest.CODE_ADDR, translate(LongModeGuest.CODE_ADDR));
        assertEquals(0L, translate(0));
        assertEquals(LongModeGuest.STACK_TOP - 8, translate(LongModeGuest.STACK_TOP - 8));
        long pde = IMAGE.getLong((int) LongModeGuest.PD_ADDR);
        assertTrue("writable", (pde & LongModeGuest.PTE_WRITABLE) != 0);
    }

    @Test
    public void pageTablesDoNotOverlapTheGdtOrTheCode() {
        long[] starts = {LongModeGuest.PML4_ADDR, LongModeGuest.PDPT_ADDR, LongModeGuest.PD_ADDR,
                LongModeGuest.GDT_ADDR, LongModeGuest.CODE_ADDR};
        for (int i = 1; i < starts.length; i++) {
            assertTrue(starts[i] >= starts[i - 1] + 0x1000);
        }
        assertTrue(LongModeGuest.image().length <= LongModeGuest.MEMORY_SIZE);
    }

    @Test
    public void gdtHasAPresent64BitCodeSegmentAndAFlatDataSegment() {
        long code = IMAGE.getLong((int) (LongModeGuest.GDT_ADDR + LongModeGuest.CODE_SELECTOR));
        long data = IMAGE.getLong((int) (LongModeGuest.GDT_ADDR + LongModeGuest.DATA_SELECTOR));
        assertEquals(0L, IMAGE.getLong((int) LongModeGuest.GDT_ADDR));
        assertEquals("code: present", 1, (code >>> 47) & 1);
        assertEquals("code: executable", 1, (code >>> 43) & 1);
        assertEquals("code: L=1", 1, (code >>> 53) & 1);
        assertEquals("code: D=0 with L=1", 0, (code >>> 54) & 1);
        assertEquals("data: present", 1, (data >>> 47) & 1);
        assertEquals("data: not executable", 0, (data >>> 43) & 1);
        assertEquals("data: writable", 1, (data >>> 41) & 1);
        assertEquals(23, LongModeGuest.gdtLimit());
    }

    @Test
    public void codeLoadsA64BitConstantShiftsItWritesThePortAndHalts() {
        byte[] code = Arrays.copyOfRange(LongModeGuest.image(), (int) LongModeGuest.CODE_ADDR,
                LongModeGuest.image().length);
        ByteBuffer c = ByteBuffer.wrap(code).order(ByteOrder.LITTLE_ENDIAN);
        // movabs rax, imm64: REX.W + B8
        assertEquals((byte) 0x48, c.get(0));
        assertEquals((byte) 0xB8, c.get(1));
        long imm = c.getLong(2);
        // shr rax, imm8: REX.W + C1 /5
        assertEquals((byte) 0x48, c.get(10));
        assertEquals((byte) 0xC1, c.get(11));
        assertEquals(5, (c.get(12) >> 3) & 7);
        int shift = c.get(13);
        // mov dx, imm16: 66 BA
        assertEquals((byte) 0x66, c.get(14));
        assertEquals((byte) 0xBA, c.get(15));
        int port = Short.toUnsignedInt(c.getShort(16));
        // out dx, eax; hlt
        assertEquals((byte) 0xEF, c.get(18));
        assertEquals((byte) 0xF4, c.get(19));
        assertEquals(20, code.length);

        long rax = imm >>> shift;
        assertEquals(Integer.toUnsignedLong(LongModeGuest.EXPECTED_VALUE), rax);
        assertEquals(LongModeGuest.PROBE_PORT, port);
        // a 32-bit CPU would see only the low half of the constant: the expected value proves 64-bit execution
        assertTrue((imm & 0xFFFF_FFFFL) != rax);
    }

    @Test
    public void sregsEnterLongModeAndKeepKvmsTaskRegister() {
        ByteBuffer sregs = ByteBuffer.allocate(KvmAbi.SIZEOF_SREGS).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < KvmAbi.SIZEOF_SEGMENT; i++) {
            sregs.put(KvmAbi.SREGS_TR + i, (byte) (0x40 + i));
        }
        sregs.putLong(KvmAbi.SREGS_APIC_BASE, 0xFEE0_0900L);
        LongModeGuest.patchSregs(sregs);

        long cr0 = sregs.getLong(KvmAbi.SREGS_CR0);
        assertTrue("PE", (cr0 & 1) != 0);
        assertTrue("PG", (cr0 & (1L << 31)) != 0);
        assertEquals(LongModeGuest.PML4_ADDR, sregs.getLong(KvmAbi.SREGS_CR3));
        assertTrue("PAE", (sregs.getLong(KvmAbi.SREGS_CR4) & (1L << 5)) != 0);
        assertEquals((1L << 8) | (1L << 10), sregs.getLong(KvmAbi.SREGS_EFER));
        assertEquals(LongModeGuest.GDT_ADDR, sregs.getLong(KvmAbi.SREGS_GDT));
        assertEquals(23, sregs.getShort(KvmAbi.SREGS_GDT + 8));

        assertEquals(LongModeGuest.CODE_SELECTOR, sregs.getShort(KvmAbi.SREGS_CS + KvmAbi.SEG_SELECTOR));
        assertEquals(1, sregs.get(KvmAbi.SREGS_CS + KvmAbi.SEG_L));
        assertEquals(0, sregs.get(KvmAbi.SREGS_CS + KvmAbi.SEG_DB));
        assertEquals(1, sregs.get(KvmAbi.SREGS_CS + KvmAbi.SEG_PRESENT));
        for (int seg : new int[] {KvmAbi.SREGS_DS, KvmAbi.SREGS_ES, KvmAbi.SREGS_FS, KvmAbi.SREGS_GS, KvmAbi.SREGS_SS}) {
            assertEquals(LongModeGuest.DATA_SELECTOR, sregs.getShort(seg + KvmAbi.SEG_SELECTOR));
            assertEquals(0, sregs.get(seg + KvmAbi.SEG_L));
            assertEquals(3, sregs.get(seg + KvmAbi.SEG_TYPE));
        }
        for (int i = 0; i < KvmAbi.SIZEOF_SEGMENT; i++) {
            assertEquals("TR byte " + i, (byte) (0x40 + i), sregs.get(KvmAbi.SREGS_TR + i));
        }
        assertEquals(0xFEE0_0900L, sregs.getLong(KvmAbi.SREGS_APIC_BASE));
    }

    @Test
    public void regsStartAtTheCodeWithTheStackAtTheTopOfMemory() {
        ByteBuffer r = ByteBuffer.wrap(LongModeGuest.regs()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(KvmAbi.SIZEOF_REGS, r.capacity());
        assertEquals(LongModeGuest.CODE_ADDR, r.getLong(KvmAbi.REGS_RIP));
        assertEquals(LongModeGuest.STACK_TOP, r.getLong(KvmAbi.REGS_RSP));
        assertEquals(2L, r.getLong(KvmAbi.REGS_RFLAGS));
    }

    private static ByteBuffer kvmRun(int direction, int size, int port, int count, long value) {
        ByteBuffer run = ByteBuffer.allocate(3 * 4096).order(ByteOrder.LITTLE_ENDIAN);
        run.putInt(KvmAbi.RUN_EXIT_REASON, KvmAbi.KVM_EXIT_IO);
        run.put(KvmAbi.RUN_IO_DIRECTION, (byte) direction);
        run.put(KvmAbi.RUN_IO_SIZE, (byte) size);
        run.putShort(KvmAbi.RUN_IO_PORT, (short) port);
        run.putInt(KvmAbi.RUN_IO_COUNT, count);
        run.putLong(KvmAbi.RUN_IO_DATA_OFFSET, 4096);
        run.putInt(4096, (int) value);
        return run;
    }

    @Test
    public void theExpectedPortWriteIsAccepted() {
        LongModeGuest.IoExit io = LongModeGuest.IoExit.read(kvmRun(1, 4, 0xE9, 1, 0x1234_5678L));
        assertNull(io.mismatch());
        assertEquals(0x1234_5678L, io.value());
    }

    @Test
    public void aWrongPortOrValueOrDirectionIsReported() {
        assertEquals("port 0x3f8, expected 0xe9",
                LongModeGuest.IoExit.read(kvmRun(1, 4, 0x3F8, 1, 0x1234_5678L)).mismatch());
        assertEquals("value 0x9abcdef0, expected 0x12345678",
                LongModeGuest.IoExit.read(kvmRun(1, 4, 0xE9, 1, 0x9ABC_DEF0L)).mismatch());
        assertEquals("direction 0, expected out", LongModeGuest.IoExit.read(kvmRun(0, 4, 0xE9, 1, 0)).mismatch());
        assertTrue(LongModeGuest.IoExit.read(kvmRun(1, 1, 0xE9, 1, 0x78)).mismatch().startsWith("size 1"));
    }
}

package io.zonekeeper.kvm.accel;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** Expected values as printed by a C program built against Debian 12's /usr/include/linux/kvm.h (x86-64). */
public class KvmAbiTest {

    @Test
    public void ioctlNumbersMatchLinuxKvmH() {
        assertEquals(0xAE00L, KvmAbi.KVM_GET_API_VERSION);
        assertEquals(0xAE01L, KvmAbi.KVM_CREATE_VM);
        assertEquals(0xAE03L, KvmAbi.KVM_CHECK_EXTENSION);
        assertEquals(0xAE04L, KvmAbi.KVM_GET_VCPU_MMAP_SIZE);
        assertEquals(0xAE41L, KvmAbi.KVM_CREATE_VCPU);
        assertEquals(0x4020AE46L, KvmAbi.KVM_SET_USER_MEMORY_REGION);
        assertEquals(0xAE80L, KvmAbi.KVM_RUN);
        assertEquals(0x8090AE81L, KvmAbi.KVM_GET_REGS);
        assertEquals(0x4090AE82L, KvmAbi.KVM_SET_REGS);
        assertEquals(0x8138AE83L, KvmAbi.KVM_GET_SREGS);
        assertEquals(0x4138AE84L, KvmAbi.KVM_SET_SREGS);
    }

    @Test
    public void structOffsetsMatchLinuxKvmH() {
        assertEquals(312, KvmAbi.SIZEOF_SREGS);
        assertEquals(192, KvmAbi.SREGS_GDT);
        assertEquals(208, KvmAbi.SREGS_IDT);
        assertEquals(224, KvmAbi.SREGS_CR0);
        assertEquals(240, KvmAbi.SREGS_CR3);
        assertEquals(248, KvmAbi.SREGS_CR4);
        assertEquals(264, KvmAbi.SREGS_EFER);
        assertEquals(272, KvmAbi.SREGS_APIC_BASE);
        assertEquals(24, KvmAbi.SIZEOF_SEGMENT);
        assertEquals(14, KvmAbi.SEG_TYPE);
        assertEquals(19, KvmAbi.SEG_L);
        assertEquals(22, KvmAbi.SEG_UNUSABLE);
        assertEquals(144, KvmAbi.SIZEOF_REGS);
        assertEquals(48, KvmAbi.REGS_RSP);
        assertEquals(128, KvmAbi.REGS_RIP);
        assertEquals(136, KvmAbi.REGS_RFLAGS);
        assertEquals(8, KvmAbi.RUN_EXIT_REASON);
        assertEquals(32, KvmAbi.RUN_IO_DIRECTION);
        assertEquals(34, KvmAbi.RUN_IO_PORT);
        assertEquals(36, KvmAbi.RUN_IO_COUNT);
        assertEquals(40, KvmAbi.RUN_IO_DATA_OFFSET);
    }
}

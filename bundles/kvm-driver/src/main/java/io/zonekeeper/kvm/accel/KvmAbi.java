package io.zonekeeper.kvm.accel;

/**
 * The slice of the x86-64 KVM ABI (linux/kvm.h) the ioctl self-test uses: ioctl numbers, capabilities, exit
 * reasons and the byte offsets of the structures it reads and writes.
 */
final class KvmAbi {

    static final int API_VERSION = 12;

    private static final int KVMIO = 0xAE;
    private static final int IOC_WRITE = 1;
    private static final int IOC_READ = 2;

    static final int SIZEOF_USERSPACE_MEMORY_REGION = 32;
    static final int SIZEOF_REGS = 144;
    static final int SIZEOF_SREGS = 312;

    static final long KVM_GET_API_VERSION = io(0x00);
    static final long KVM_CREATE_VM = io(0x01);
    static final long KVM_CHECK_EXTENSION = io(0x03);
    static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    static final long KVM_CREATE_VCPU = io(0x41);
    static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, SIZEOF_USERSPACE_MEMORY_REGION);
    static final long KVM_RUN = io(0x80);
    static final long KVM_GET_REGS = ior(0x81, SIZEOF_REGS);
    static final long KVM_SET_REGS = iow(0x82, SIZEOF_REGS);
    static final long KVM_GET_SREGS = ior(0x83, SIZEOF_SREGS);
    static final long KVM_SET_SREGS = iow(0x84, SIZEOF_SREGS);

    // KVM_CHECK_EXTENSION arguments
    static final int KVM_CAP_IRQCHIP = 0;
    static final int KVM_CAP_HLT = 1;
    static final int KVM_CAP_USER_MEMORY = 3;
    static final int KVM_CAP_SET_TSS_ADDR = 4;
    static final int KVM_CAP_EXT_CPUID = 7;
    static final int KVM_CAP_MP_STATE = 14;
    static final int KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21;
    static final int KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30;
    static final int KVM_CAP_IRQFD = 32;
    static final int KVM_CAP_IOEVENTFD = 36;
    static final int KVM_CAP_INTERNAL_ERROR_DATA = 40;
    static final int KVM_CAP_IOEVENTFD_ANY_LENGTH = 122;

    /** What QEMU 7.2 insists on before it starts an x86 guest under KVM, plus the in-kernel irqchip and HLT. */
    static final java.util.Map<String, Integer> CAPS_A_ZONE_NEEDS = orderedCaps();

    // kvm_run.exit_reason
    static final int KVM_EXIT_UNKNOWN = 0;
    static final int KVM_EXIT_EXCEPTION = 1;
    static final int KVM_EXIT_IO = 2;
    static final int KVM_EXIT_HLT = 5;
    static final int KVM_EXIT_MMIO = 6;
    static final int KVM_EXIT_SHUTDOWN = 8;
    static final int KVM_EXIT_FAIL_ENTRY = 9;
    static final int KVM_EXIT_INTR = 10;
    static final int KVM_EXIT_INTERNAL_ERROR = 17;
    static final int KVM_EXIT_IO_OUT = 1;

    // struct kvm_run
    static final int RUN_EXIT_REASON = 8;
    static final int RUN_IO_DIRECTION = 32;
    static final int RUN_IO_SIZE = 33;
    static final int RUN_IO_PORT = 34;
    static final int RUN_IO_COUNT = 36;
    static final int RUN_IO_DATA_OFFSET = 40;
    static final int RUN_INTERNAL_SUBERROR = 32;

    // struct kvm_regs: 18 u64 in the order rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags
    static final int REGS_RAX = 0;
    static final int REGS_RSP = 6 * 8;
    static final int REGS_RIP = 16 * 8;
    static final int REGS_RFLAGS = 17 * 8;

    // struct kvm_sregs: 8 kvm_segment (24 bytes each), gdt and idt kvm_dtable (16 bytes each), then control registers
    static final int SIZEOF_SEGMENT = 24;
    static final int SREGS_CS = 0;
    static final int SREGS_DS = 1 * SIZEOF_SEGMENT;
    static final int SREGS_ES = 2 * SIZEOF_SEGMENT;
    static final int SREGS_FS = 3 * SIZEOF_SEGMENT;
    static final int SREGS_GS = 4 * SIZEOF_SEGMENT;
    static final int SREGS_SS = 5 * SIZEOF_SEGMENT;
    static final int SREGS_TR = 6 * SIZEOF_SEGMENT;
    static final int SREGS_LDT = 7 * SIZEOF_SEGMENT;
    static final int SREGS_GDT = 8 * SIZEOF_SEGMENT;
    static final int SREGS_IDT = SREGS_GDT + 16;
    static final int SREGS_CR0 = SREGS_IDT + 16;
    static final int SREGS_CR2 = SREGS_CR0 + 8;
    static final int SREGS_CR3 = SREGS_CR2 + 8;
    static final int SREGS_CR4 = SREGS_CR3 + 8;
    static final int SREGS_CR8 = SREGS_CR4 + 8;
    static final int SREGS_EFER = SREGS_CR8 + 8;
    static final int SREGS_APIC_BASE = SREGS_EFER + 8;

    // struct kvm_segment: u64 base, u32 limit, u16 selector, then u8 type present dpl db s l g avl unusable padding
    static final int SEG_BASE = 0;
    static final int SEG_LIMIT = 8;
    static final int SEG_SELECTOR = 12;
    static final int SEG_TYPE = 14;
    static final int SEG_PRESENT = 15;
    static final int SEG_DPL = 16;
    static final int SEG_DB = 17;
    static final int SEG_S = 18;
    static final int SEG_L = 19;
    static final int SEG_G = 20;
    static final int SEG_AVL = 21;
    static final int SEG_UNUSABLE = 22;

    private KvmAbi() {
    }

    private static java.util.Map<String, Integer> orderedCaps() {
        java.util.Map<String, Integer> caps = new java.util.LinkedHashMap<>();
        caps.put("USER_MEMORY", KVM_CAP_USER_MEMORY);
        caps.put("IRQCHIP", KVM_CAP_IRQCHIP);
        caps.put("HLT", KVM_CAP_HLT);
        caps.put("SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR);
        caps.put("EXT_CPUID", KVM_CAP_EXT_CPUID);
        caps.put("MP_STATE", KVM_CAP_MP_STATE);
        caps.put("DESTROY_MEMORY_REGION_WORKS", KVM_CAP_DESTROY_MEMORY_REGION_WORKS);
        caps.put("JOIN_MEMORY_REGIONS_WORKS", KVM_CAP_JOIN_MEMORY_REGIONS_WORKS);
        caps.put("IRQFD", KVM_CAP_IRQFD);
        caps.put("IOEVENTFD", KVM_CAP_IOEVENTFD);
        caps.put("INTERNAL_ERROR_DATA", KVM_CAP_INTERNAL_ERROR_DATA);
        caps.put("IOEVENTFD_ANY_LENGTH", KVM_CAP_IOEVENTFD_ANY_LENGTH);
        return java.util.Collections.unmodifiableMap(caps);
    }

    static long io(int nr) {
        return ioc(0, nr, 0);
    }

    static long ior(int nr, int size) {
        return ioc(IOC_READ, nr, size);
    }

    static long iow(int nr, int size) {
        return ioc(IOC_WRITE, nr, size);
    }

    private static long ioc(int dir, int nr, int size) {
        return ((long) dir << 30) | ((long) size << 16) | ((long) KVMIO << 8) | nr;
    }

    static String exitReasonName(int reason) {
        return switch (reason) {
            case KVM_EXIT_UNKNOWN -> "KVM_EXIT_UNKNOWN";
            case KVM_EXIT_EXCEPTION -> "KVM_EXIT_EXCEPTION";
            case KVM_EXIT_IO -> "KVM_EXIT_IO";
            case KVM_EXIT_HLT -> "KVM_EXIT_HLT";
            case KVM_EXIT_MMIO -> "KVM_EXIT_MMIO";
            case KVM_EXIT_SHUTDOWN -> "KVM_EXIT_SHUTDOWN";
            case KVM_EXIT_FAIL_ENTRY -> "KVM_EXIT_FAIL_ENTRY";
            case KVM_EXIT_INTR -> "KVM_EXIT_INTR";
            case KVM_EXIT_INTERNAL_ERROR -> "KVM_EXIT_INTERNAL_ERROR";
            default -> "exit reason " + reason;
        };
    }
}

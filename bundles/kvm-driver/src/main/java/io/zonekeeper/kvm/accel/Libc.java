package io.zonekeeper.kvm.accel;

import jnr.ffi.annotations.SaveError;

/**
 * The libc calls the ioctl self-test needs, bound through jnr-ffi. Public only because jnr-ffi generates the
 * implementation in its own class loader; the package is private to the bundle.
 *
 * <p>ioctl is variadic: it is declared with exactly three arguments, and callers pass 0 when a request takes none
 * (KVM rejects junk in the third argument). Pointers travel as {@code long} addresses.
 */
public interface Libc {

    int O_RDWR = 0x2;
    int O_CLOEXEC = 0x80000;
    int PROT_READ = 0x1;
    int PROT_WRITE = 0x2;
    int MAP_SHARED = 0x1;
    int MAP_PRIVATE = 0x2;
    int MAP_ANONYMOUS = 0x20;
    int MAP_NORESERVE = 0x4000;
    long MAP_FAILED = -1L;

    @SaveError
    int open(String path, int flags);

    @SaveError
    int close(int fd);

    @SaveError
    int ioctl(int fd, long request, long arg);

    /** x86_64 system call number of mmap(2). */
    long SYS_MMAP = 9;

    /**
     * syscall(2), used for mmap: jnr-ffi's generated fast invoker passed a wrong sixth argument (the offset) to
     * libc's six-argument mmap here, so glibc refused every mapping with EINVAL before any system call; seven
     * arguments take jnr-ffi's general path. Returns -1 with errno set on failure, like mmap.
     */
    @SaveError
    long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    @SaveError
    int munmap(long addr, long length);

    int getpid();

    String strerror(int errnum);
}

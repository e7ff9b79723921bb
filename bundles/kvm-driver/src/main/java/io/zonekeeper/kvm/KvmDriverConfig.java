package io.zonekeeper.kvm;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** Configuration of the KVM driver, PID {@code io.zonekeeper.kvm}. */
@ObjectClassDefinition(id = KvmDriver.PID, name = "Zonekeeper KVM driver",
        description = "Runs zones as QEMU processes, under KVM where a probe boot proves it works, TCG otherwise.")
public @interface KvmDriverConfig {

    @AttributeDefinition(name = "QEMU binary", description = "The qemu-system-x86_64 to run, by name or path.")
    String qemuBinary() default "qemu-system-x86_64";

    @AttributeDefinition(name = "Accelerator", description = "auto probes KVM with a test boot and falls back to TCG;"
            + " kvm or tcg force one.", options = {@Option(label = "auto", value = "auto"),
                @Option(label = "kvm", value = "kvm"), @Option(label = "tcg", value = "tcg")})
    String accel() default "auto";

    @AttributeDefinition(name = "Default kernel", required = false, description = "The kernel of zones whose spec"
            + " names none; empty means the newest /boot/vmlinuz-*.")
    String defaultKernel() default "";

    @AttributeDefinition(name = "Boot folders", required = false, description = "Folders besides the driver's image"
            + " cache and /boot that a zone's own kernel and initramfs may come from, judged by real path (a symlink"
            + " out of them is refused).")
    String[] bootFolders() default {};

    @AttributeDefinition(name = "Least machine", description = "The machine every zone gets at least; a zone whose"
            + " devices need more gets more (q35-pvh for PCI functions, q35-firmware for a TPM). microvm-pvh boots"
            + " fastest.", options = {@Option(label = "microvm-pvh", value = "microvm-pvh"),
                @Option(label = "q35-pvh", value = "q35-pvh"), @Option(label = "q35-firmware", value = "q35-firmware")})
    String machine() default "microvm-pvh";

    @AttributeDefinition(name = "Console log cap (KiB)", description = "The most a zone's console.log holds before"
            + " its newest part moves to console.log.1 (checked every 2 s while the driver watches the zone); a"
            + " guest that floods its console keeps at most about twice this on disk.")
    int consoleLogCapKiB() default 8192;

    @AttributeDefinition(name = "Jail", description = "Run each zone's QEMU as a uid and gid of its own, chrooted into"
            + " an empty folder, in a cgroup v2 group of its own. false runs QEMU as root (unconfined but for seccomp).")
    boolean jail() default true;

    @AttributeDefinition(name = "Jail id base", description = "The first uid/gid a zone's QEMU may get; ids in /etc/passwd"
            + " or /etc/group or used by any running process are skipped.")
    int jailIdBase() default 64000;

    @AttributeDefinition(name = "Jail id count", description = "How many ids, from the base on, zones may get: the most"
            + " zones that run at once.")
    int jailIdCount() default 1000;

    @AttributeDefinition(name = "cgroup memory overhead (MiB)", description = "What a zone's cgroup allows above its"
            + " guest memory: QEMU itself, its TCG translation cache and the page cache of its disks.")
    long cgroupMemoryOverheadMiB() default 256;

    @AttributeDefinition(name = "cgroup parent", description = "The folder below the cgroup2 mount that holds one group"
            + " per zone (named by the zone's uuid). On a systemd host, a folder delegated to the appliance.")
    String cgroupParent() default "zonekeeper";
}

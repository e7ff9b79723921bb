package io.zonekeeper.kvm.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.zonekeeper.image.Hypervisor;
import io.zonekeeper.image.ImageKey;
import io.zonekeeper.image.KernelFiles;
import io.zonekeeper.image.ModuleGroups;
import io.zonekeeper.image.ZoneInitScript;
import io.zonekeeper.image.ZoneInitramfs;

/**
 * The zone images of one host, built on demand and cached (in {@code <state>/cache/kvm/}): the uncompressed
 * vmlinux of each kernel, the zone initramfs of each kernel release (the zone-image library's, with the KVM hooks),
 * and the probe initramfs.
 */
public final class ZoneImages {

    /**
     * What a zone boots.
     *
     * @param kernel     the kernel as named (a bzImage or an ELF)
     * @param bootKernel what QEMU gets as {@code -kernel}: the extracted vmlinux where there is one
     * @param initramfs  the initramfs
     * @param zoneInit   true when the initramfs is ours and runs the zone init (marker, channels, power button)
     * @param features   the module groups the zone init can load ({@code zk.features=})
     * @param release    the kernel release, or "" when unknown
     */
    public record BootImage(Path kernel, Path bootKernel, Path initramfs, boolean zoneInit, Set<String> features,
            String release) {
        public BootImage {
            features = Set.copyOf(features);
        }
    }

    /** The module groups a KVM zone image carries, by feature: what the init loads for {@code zk.features=}. */
    static final Map<String, List<String>> FEATURES = features();
    /**
     * 3: the zone initramfs is an uncompressed cpio (the kernel copies it out instead of inflating it first, about 80
     * ms of the boot's instructions) with busybox's applet links in it.
     */
    private static final int FORMAT = 3;
    private final Path cacheDir;
    private final Path bootDir;
    private final Path modulesRoot;
    private final Path busybox;
    private final VmlinuxExtractor extractor;
    private final Map<String, Path> initramfsByKey = new HashMap<>();
    /** Module groups by the stamp of the files they were parsed from ({@link #moduleGroups}). */
    private final Map<String, ModuleGroups> groupsByStamp = new HashMap<>();

    public ZoneImages(Path cacheDir, Path bootDir, Path modulesRoot, Path busybox) {
        this.cacheDir = cacheDir;
        this.bootDir = bootDir;
        this.modulesRoot = modulesRoot;
        this.busybox = busybox;
        this.extractor = new VmlinuxExtractor(cacheDir);
    }

    private static Map<String, List<String>> features() {
        Map<String, List<String>> f = new LinkedHashMap<>();
        f.put("power", List.of("evdev", "button"));
        f.put("channels", List.of("virtio_mmio", "virtio_console"));
        // The guest agent's port (io.zonekeeper.agent) is a virtio-serial port like a channel's.
        f.put("agent", List.of("virtio_mmio", "virtio_console"));
        // virtio_net needs failover and net_failover (modules.dep); ext4 needs crc32c first (modules.softdep).
        f.put("net", List.of("virtio_mmio", "virtio_net"));
        f.put("disk", List.of("virtio_mmio", "virtio_blk", "ext4"));
        // An image zone: the image's squashfs (zstd is built into Debian's kernel) under a tmpfs overlay.
        f.put("image", List.of("virtio_mmio", "virtio_blk", "squashfs", "overlay"));
        // On q35 virtio is on PCI; the groups above still name virtio_mmio, which finds nothing there (a few ms).
        f.put("vpci", List.of("virtio_pci"));
        // Built into Debian's kernel (so nothing to insert there); modules on kernels that build them so.
        f.put("tpm", List.of("tpm_tis", "tpm_crb"));
        return Collections.unmodifiableMap(f);
    }

    /**
     * The zone init and the guest agent, read from the bundle once: they cannot change while it runs, and reading
     * (and inflating) them from the bundle's jar at every start was part of each start's own time.
     */
    private static final Once<String> INIT = new Once<>(() -> ZoneInitScript.render(Hypervisor.KVM));
    private static final Once<byte[]> AGENT = new Once<>(ZoneInitramfs::agentBinary);

    /** A value computed on first use and kept; a failure is not kept, so the next use tries again. */
    private static final class Once<T> {
        private final java.util.function.Supplier<T> supplier;
        private volatile T value;

        Once(java.util.function.Supplier<T> supplier) {
            this.supplier = supplier;
        }

        T get() {
            T v = value;
            if (v == null) {
                v = supplier.get();
                value = v;
            }
            return v;
        }
    }

    /** The host's defaults: /boot, /lib/modules and /bin/busybox. */
    public static ZoneImages forHost(Path cacheDir) {
        return new ZoneImages(cacheDir, Path.of("/boot"), Path.of("/lib/modules"), Path.of("/bin/busybox"));
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** The newest {@code vmlinuz-*} in the boot folder, by kernel release. */
    public Path newestKernel() throws IOException {
        return KernelFiles.newest(bootDir);
    }

    /**
     * The image a zone boots: {@code kernel} (or the newest host kernel when null) and {@code initramfs} (or the
     * zone initramfs built for that kernel's release when null).
     */
    public synchronized BootImage image(Path kernel, Path initramfs) throws IOException {
        Path k = kernel != null ? kernel : newestKernel();
        if (!Files.isRegularFile(k)) {
            throw new IOException("kernel " + k + " does not exist or is not a file");
        }
        Path boot = extractor.bootable(k);
        if (initramfs != null) {
            if (!Files.isRegularFile(initramfs)) {
                throw new IOException("initramfs " + initramfs + " does not exist or is not a file");
            }
            return new BootImage(k, boot, initramfs, false, Set.of(), KernelFiles.release(k).orElse(""));
        }
        // A feature this kernel cannot give is left out; zones that need it are refused by the driver.
        ModuleGroups modules = moduleGroups(k);
        String release = modules.release();
        String key = new ImageKey().add("format " + FORMAT).add(INIT.get()).addFile(busybox)
                .addBytes(AGENT.get()).addGroups(modules.groups()).hex();
        Path cached = initramfsByKey.get(key);
        if (cached == null || !Files.isRegularFile(cached)) {
            cached = cacheDir.resolve("initramfs-" + (release.isEmpty() ? "nomodules" : release) + "-" + key
                    + ".cpio");
            if (!Files.isRegularFile(cached)) {
                // Uncompressed: QEMU loads the file as it is, and the guest's kernel then only copies it out.
                ZoneInitramfs.write(cached, busybox, Hypervisor.KVM, modules.groups(), ZoneInitramfs.Extras.NONE,
                        false);
            }
            initramfsByKey.put(key, cached);
        }
        return new BootImage(k, boot, cached, true, modules.groups().keySet(), release);
    }

    /**
     * The kernel's module groups. Parsing modules.dep and modules.softdep was most of a start's own work once the
     * image is cached (about 2 s a start on a loaded 2-core machine, where a start rarely runs often enough for the
     * JIT to compile the parser), and the groups follow from the kernel and those two files alone: they are parsed
     * again only when one of them changes, by path, size and mtime, as the image key compares files.
     */
    private ModuleGroups moduleGroups(Path kernel) throws IOException {
        Path dir = modulesRoot.resolve(KernelFiles.release(kernel).orElse(""));
        String stamp = new ImageKey().addFile(kernel).addFile(dir.resolve("modules.dep"))
                .addFile(dir.resolve("modules.softdep")).hex();
        ModuleGroups groups = groupsByStamp.get(stamp);
        if (groups == null) {
            groups = ModuleGroups.of(kernel, modulesRoot, FEATURES);
            groupsByStamp.put(stamp, groups);
        }
        return groups;
    }

    /** The probe image of the accelerator self-test: prints {@code marker}, powers off. */
    public synchronized Path probeInitramfs(String marker) throws IOException {
        String key = new ImageKey().add("probe " + FORMAT).add(ZoneInitScript.probe(marker)).addFile(busybox).hex();
        Path p = cacheDir.resolve("probe-initramfs-" + key + ".cpio.gz");
        if (!Files.isRegularFile(p)) {
            ZoneInitramfs.writeProbe(p, busybox, marker);
        }
        return p;
    }

    /**
     * Whether {@code kernel} is a bzImage (the x86 boot protocol's {@code HdrS} header), which firmware can boot; an
     * ELF vmlinux boots only through its PVH entry.
     */
    public static boolean isBzImage(Path kernel) throws IOException {
        return KernelFiles.isBzImage(kernel);
    }

    /** Where a kernel's modules would be, for messages. */
    public Optional<Path> modulesOf(String release) {
        return release.isEmpty() ? Optional.empty() : Optional.of(modulesRoot.resolve(release));
    }
}

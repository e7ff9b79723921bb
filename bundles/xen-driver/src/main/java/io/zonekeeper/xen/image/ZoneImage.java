package io.zonekeeper.xen.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.zonekeeper.image.Hypervisor;
import io.zonekeeper.image.ImageFiles;
import io.zonekeeper.image.ImageKey;
import io.zonekeeper.image.InitramfsWriter;
import io.zonekeeper.image.KernelFiles;
import io.zonekeeper.image.ModuleGroups;
import io.zonekeeper.image.ZoneInitScript;
import io.zonekeeper.image.ZoneInitramfs;

/**
 * The default image of Xen zones: the host's newest kernel (a PV or PVH guest boots the bzImage as it is) and an
 * initramfs of busybox and the zone init with its Xen hooks (the zone-image library's), built once per kernel
 * release and cached. The Xen console is built into Debian's kernel, but the frontends are modules: the image
 * carries them in groups (features), and each zone loads only the groups its spec needs ({@code zk.features=}):
 * <ul>
 * <li>{@code net}: xen-netfront;</li>
 * <li>{@code disk}: xen-blkfront and ext4, with what modules.dep and modules.softdep say ext4 needs;</li>
 * <li>{@code vchan}: the grant and event channel devices, and Xen's own {@code vchan-socket-proxy} with its shared
 * libraries, which {@code zk-channel NAME} runs as the zone's end of a channel, and an image zone's guest agent as
 * its end of the agent's vchan;</li>
 * <li>{@code image}: xen-blkfront, squashfs and overlay, for an image zone's root (the image's squashfs under a
 * tmpfs overlay).</li>
 * </ul>
 * A group the host cannot give (a module missing, no vchan-socket-proxy) is left out and {@link Initramfs#missing}
 * says why, so that the driver refuses a spec that needs it before xl runs.
 */
public final class ZoneImage {
    public static final String NET = "net";
    public static final String DISK = "disk";
    public static final String VCHAN = "vchan";
    public static final String IMAGE = "image";
    /** Where Debian's xen-utils-4.17 installs the vchan proxy. */
    public static final Path DEFAULT_VCHAN_PROXY = Path.of("/usr/lib/xen-4.17/bin/vchan-socket-proxy");
    private static final int FORMAT = 4;
    private static final Map<String, List<String>> GROUPS = groups();

    /**
     * A zone initramfs.
     *
     * @param path     the cached file
     * @param release  the kernel release whose modules it carries, or "" when unknown
     * @param features the groups it carries
     * @param missing  the groups it lacks, each with the reason
     */
    public record Initramfs(Path path, String release, Set<String> features, Map<String, String> missing) {
        public Initramfs {
            features = Set.copyOf(features);
            missing = Map.copyOf(missing);
        }
    }

    private final Path cacheDir;
    private final Path bootDir;
    private final Path modulesRoot;
    private final Path busybox;
    private final Path vchanProxy;
    private final Map<String, Initramfs> built = new HashMap<>();

    public ZoneImage(Path cacheDir, Path bootDir, Path modulesRoot, Path busybox, Path vchanProxy) {
        this.cacheDir = cacheDir;
        this.bootDir = bootDir;
        this.modulesRoot = modulesRoot;
        this.busybox = busybox;
        this.vchanProxy = vchanProxy;
    }

    private static Map<String, List<String>> groups() {
        Map<String, List<String>> g = new LinkedHashMap<>();
        g.put(NET, List.of("xen-netfront"));
        g.put(DISK, List.of("xen-blkfront", "ext4"));
        g.put(VCHAN, List.of("xen-evtchn", "xen-gntdev", "xen-gntalloc"));
        g.put(IMAGE, List.of("xen-blkfront", "squashfs", "overlay"));
        return g;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    static String poweroffScript() {
        return resource("poweroff.sh");
    }

    static String channelScript() {
        return resource("zk-channel.sh");
    }

    private static String resource(String name) {
        return ImageFiles.bundledText(ZoneImage.class, name);
    }

    /** The newest {@code vmlinuz-*} in the boot folder, by version. */
    public Path newestKernel() throws IOException {
        return KernelFiles.newest(bootDir);
    }

    /** The zone initramfs for {@code kernel}, built into the cache when it is not there yet. */
    public synchronized Initramfs initramfs(Path kernel) throws IOException {
        if (!Files.isRegularFile(busybox)) {
            throw new IOException("busybox " + busybox + " does not exist: install busybox-static, or give the zone"
                    + " an initramfs of its own");
        }
        ModuleGroups modules = ModuleGroups.of(kernel, modulesRoot, GROUPS);
        SharedLibraries.Needs proxy = null;
        if (modules.groups().containsKey(VCHAN)) {
            if (!Files.isRegularFile(vchanProxy)) {
                modules = modules.without(VCHAN, vchanProxy + " does not exist (install xen-utils-4.17)");
            } else {
                try {
                    proxy = new SharedLibraries(SharedLibraries.HOST_FOLDERS).of(vchanProxy);
                } catch (IOException e) {
                    modules = modules.without(VCHAN, e.getMessage());
                }
            }
        }
        String init = ZoneInitScript.render(Hypervisor.XEN);
        ImageKey key = new ImageKey().add("format " + FORMAT).add(init).add(poweroffScript()).addFile(busybox)
                .addBytes(ZoneInitramfs.agentBinary()).addGroups(modules.groups());
        if (proxy != null) {
            key.add(channelScript()).addFile(vchanProxy).addFile(proxy.interpreter().getValue());
            for (Path lib : proxy.libraries().values()) {
                key.addFile(lib);
            }
        }
        String hex = key.hex();
        Initramfs known = built.get(hex);
        if (known != null && Files.isRegularFile(known.path())) {
            return known;
        }
        String release = modules.release();
        Path p = cacheDir.resolve("zone-initramfs-" + (release.isEmpty() ? "nomodules" : release) + "-" + hex
                + ".cpio.gz");
        if (!Files.isRegularFile(p)) {
            SharedLibraries.Needs needs = proxy;
            ZoneInitramfs.write(p, busybox, Hypervisor.XEN, modules.groups(), image -> extras(image, needs));
        }
        Initramfs made = new Initramfs(p, release, modules.groups().keySet(), modules.missing());
        built.put(hex, made);
        return made;
    }

    /** What only Xen zones have: the kernel's /sbin/poweroff, and the vchan proxy with its loader and libraries. */
    private void extras(InitramfsWriter image, SharedLibraries.Needs proxy) throws IOException {
        image.file("sbin/poweroff", 0755, poweroffScript().getBytes(StandardCharsets.UTF_8));
        if (proxy != null) {
            image.file("bin/vchan-socket-proxy", 0755, Files.readAllBytes(vchanProxy));
            image.file("bin/zk-channel", 0755, channelScript().getBytes(StandardCharsets.UTF_8));
            image.file(proxy.interpreter().getKey().replaceFirst("^/+", ""), 0755,
                    Files.readAllBytes(proxy.interpreter().getValue()));
            for (Map.Entry<String, Path> lib : proxy.libraries().entrySet()) {
                image.file("lib/x86_64-linux-gnu/" + lib.getKey(), 0755, Files.readAllBytes(lib.getValue()));
            }
        }
    }
}

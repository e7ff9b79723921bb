package io.zonekeeper.xen;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import io.zonekeeper.xen.image.ZoneImage;
import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xl.DomainConfig;

/**
 * What the xen driver needs, as a plain object (tests, tools) as well as from its configuration
 * ({@link XenDriverConfig}).
 *
 * @param stateDir       the state directory; the zone initramfs is cached in {@code <stateDir>/cache/xen}
 * @param xlBinary       the xl to run
 * @param defaultType    {@code pv} or {@code pvh}
 * @param defaultKernel  the kernel of zones that name none, or null for the newest /boot/vmlinuz-*
 * @param xenstoreSocket xenstored's socket
 * @param consoleLogDir  where xenconsoled writes guest-NAME.log
 * @param busybox        the static busybox of the default initramfs
 * @param modulesRoot    where the kernels' modules are ({@code /lib/modules}), for the initramfs's groups
 * @param vchanProxy     Xen's vchan-socket-proxy, which the initramfs carries for the zone's end of channels
 * @param bootFolders    folders besides the image cache and /boot that a spec's kernel and initramfs may come from
 * @param consoleLogCap  the most bytes a zone's guest-NAME.log holds before it is rotated to guest-NAME.log.1
 */
public record XenDriverSettings(Path stateDir, String xlBinary, String defaultType, String defaultKernel,
        Path xenstoreSocket, Path consoleLogDir, Path busybox, Path modulesRoot, Path vchanProxy,
        List<Path> bootFolders, long consoleLogCap) {
    /** The cap of a configuration that sets none (KiB): the same as the kvm driver's. */
    public static final int DEFAULT_CONSOLE_LOG_CAP_KIB = 8192;

    public XenDriverSettings {
        if (!DomainConfig.PV.equals(defaultType) && !DomainConfig.PVH.equals(defaultType)) {
            throw new IllegalArgumentException("defaultType must be pv or pvh, not '" + defaultType + "'");
        }
        if (consoleLogCap < 1024) {
            throw new IllegalArgumentException("the console log cap must be at least 1 KiB, not " + consoleLogCap
                    + " bytes (consoleLogCapKiB)");
        }
        defaultKernel = defaultKernel == null || defaultKernel.isBlank() ? null : defaultKernel;
        bootFolders = bootFolders == null ? List.of() : List.copyOf(bootFolders);
    }

    /** Settings with no extra boot folders and the default console log cap. */
    public XenDriverSettings(Path stateDir, String xlBinary, String defaultType, String defaultKernel,
            Path xenstoreSocket, Path consoleLogDir, Path busybox, Path modulesRoot, Path vchanProxy) {
        this(stateDir, xlBinary, defaultType, defaultKernel, xenstoreSocket, consoleLogDir, busybox, modulesRoot,
                vchanProxy, List.of(), DEFAULT_CONSOLE_LOG_CAP_KIB * 1024L);
    }

    public static XenDriverSettings defaults(Path stateDir) {
        return new XenDriverSettings(stateDir, "xl", DomainConfig.PV, null, XenstoreClient.DEFAULT_SOCKET,
                Path.of("/var/log/xen/console"), Path.of("/bin/busybox"), Path.of("/lib/modules"),
                ZoneImage.DEFAULT_VCHAN_PROXY);
    }

    /** The settings of a configuration, with the state directory. */
    public static XenDriverSettings of(Path state, XenDriverConfig c) {
        return new XenDriverSettings(state, c.xlBinary(), c.defaultType(), c.defaultKernel(),
                Path.of(c.xenstoreSocket()), Path.of(c.consoleLogDir()), Path.of(c.busybox()), Path.of(c.modulesRoot()),
                Path.of(c.vchanProxy()), c.bootFolders() == null ? List.of() : Arrays.stream(c.bootFolders())
                        .map(String::trim).filter(f -> !f.isEmpty()).map(Path::of).toList(),
                c.consoleLogCapKiB() * 1024L);
    }
}

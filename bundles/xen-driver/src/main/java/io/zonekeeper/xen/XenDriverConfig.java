package io.zonekeeper.xen;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** Configuration of the Xen driver, PID {@code io.zonekeeper.xen}. */
@ObjectClassDefinition(id = XenDriver.PID, name = "Zonekeeper Xen driver",
        description = "Runs zones as Xen domains from dom0, through xl and xenstore.")
public @interface XenDriverConfig {

    @AttributeDefinition(name = "xl binary", description = "The xl to run, by name or path.")
    String xlBinary() default "xl";

    @AttributeDefinition(name = "Default guest type", description = "The guest type of zones whose spec has no"
            + " label xen.type.", options = {@Option(label = "PV", value = "pv"), @Option(label = "PVH", value = "pvh")})
    String defaultType() default "pv";

    @AttributeDefinition(name = "Default kernel", required = false, description = "The kernel of zones whose spec"
            + " names none; empty means the newest /boot/vmlinuz-*.")
    String defaultKernel() default "";

    @AttributeDefinition(name = "Boot folders", required = false, description = "Folders besides the driver's image"
            + " cache and /boot that a zone's own kernel and initramfs may come from, judged by real path (a symlink"
            + " out of them is refused).")
    String[] bootFolders() default {};

    @AttributeDefinition(name = "xenstored socket", description = "The Unix socket of xenstored in this domain.")
    String xenstoreSocket() default "/run/xenstored/socket";

    @AttributeDefinition(name = "Console log folder", description = "Where xenconsoled writes guest-NAME.log"
            + " (xenconsoled --log=guest --log-dir=...).")
    String consoleLogDir() default "/var/log/xen/console";

    @AttributeDefinition(name = "Console log cap (KiB)", description = "The most a zone's guest-NAME.log holds before"
            + " its newest part moves to guest-NAME.log.1 (checked every 2 s while the driver watches the zone, and"
            + " before each start); a guest that floods its console keeps at most about twice this on disk.")
    int consoleLogCapKiB() default 8192;

    @AttributeDefinition(name = "busybox", description = "The static busybox put into the default zone initramfs.")
    String busybox() default "/bin/busybox";

    @AttributeDefinition(name = "Kernel modules", description = "Where the kernels' modules are; the default zone"
            + " initramfs carries the Xen frontends and ext4 from there.")
    String modulesRoot() default "/lib/modules";

    @AttributeDefinition(name = "vchan proxy", description = "Xen's vchan-socket-proxy (xen-utils), which the default"
            + " zone initramfs carries, with its shared libraries, as the zone's end of its channels.")
    String vchanProxy() default "/usr/lib/xen-4.17/bin/vchan-socket-proxy";
}

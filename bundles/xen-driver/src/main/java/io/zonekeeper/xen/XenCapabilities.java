package io.zonekeeper.xen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.xen.image.SharedLibraries;
import io.zonekeeper.xen.image.ZoneImage;
import io.zonekeeper.xen.vchan.Libxenvchan;
import io.zonekeeper.xen.xl.DomainConfig;
import io.zonekeeper.xen.xl.Xl;

/** What the xen driver offers on this host, from {@code xl info} and what dom0 has installed. */
final class XenCapabilities {
    private XenCapabilities() {
    }

    static Capabilities of(XenDriverSettings settings, Xl xl, ZoneImage image) {
        Map<String, String> d = new LinkedHashMap<>();
        int maxVcpus = Runtime.getRuntime().availableProcessors();
        long maxMemory = ZoneSpec.MAX_MEMORY_MIB;
        try {
            Map<String, String> info = xl.info();
            d.put("xen", info.getOrDefault("xen_version", "unknown"));
            d.put("xen.caps", info.getOrDefault("xen_caps", ""));
            maxVcpus = parseInt(info.get("nr_cpus"), maxVcpus);
            maxMemory = parseInt(info.get("free_memory"), (int) maxMemory);
            d.put("freeMemoryMiB", String.valueOf(maxMemory));
        } catch (IOException e) {
            // Not in dom0, or no Xen at all: room for nothing, so zone-core never picks this driver for a zone
            // that names no hypervisor, and driver:info says why.
            d.put("xen", "not usable here: " + e.getMessage());
            maxVcpus = 0;
            maxMemory = 0;
        }
        d.put("guestTypes", "pv (default: " + settings.defaultType() + "), pvh with the label "
                + DomainConfig.TYPE_LABEL + "=pvh");
        String kernel = settings.defaultKernel();
        if (kernel == null) {
            try {
                kernel = image.newestKernel().toString();
            } catch (IOException e) {
                kernel = "none: " + e.getMessage();
            }
        }
        d.put("defaultKernel", kernel);
        d.put("console", "xenconsoled log " + settings.consoleLogDir() + "/guest-NAME.log; attach runs xl console");
        d.put("console.log.cap", settings.consoleLogCap() / 1024 + " KiB, then guest-NAME.log.1");
        d.put("bootFolders", "a spec's kernel and initramfs only from the image cache, /boot"
                + settings.bootFolders().stream().map(f -> ", " + f).collect(java.util.stream.Collectors.joining())
                + " (real paths)");
        d.put("differsFromKvm", "zones are Xen domains, not host processes (no pid; the domid is in the runtime"
                + " record); adoption proves the domain uuid and the xenstore tag; the console log is"
                + " xenconsoled's; networks are netback vifs on the network's bridge (named like the appliance's"
                + " taps, made by netback), disks are raw images on blkback (no qcow2), in the guest xvda, xvdb, ...;"
                + " the guest kernel must be Xen-aware");
        d.put("imageCache", image.cacheDir().toString());
        // OWN_HOST_INTERFACE: netback makes each zone's vif, so the network provider makes no tap for it.
        EnumSet<Feature> features = EnumSet.of(Feature.PAUSE, Feature.CONSOLE, Feature.ADOPTION, Feature.NETWORK,
                Feature.OWN_HOST_INTERFACE, Feature.DISK, Feature.PCI_PASSTHROUGH);
        d.put("devices", "pci: pci=[...] of functions the pci device backend put on pciback (xl"
                + " pci-assignable-add); no other device types");
        Optional<Path> vchan = libxenvchan();
        if (vchan.isPresent() && Files.isRegularFile(settings.vchanProxy())) {
            features.add(Feature.CHANNELS);
            d.put("channels", "vchan: in the zone \"zk-channel NAME\" (Xen's vchan-socket-proxy as the vchan server)"
                    + " joins its stdin and stdout to the channel; on the host <zone>/channels/NAME.sock, served by a"
                    + " channel keeper process for all zones (libxenvchan through jnr-ffi), which outlives the driver;"
                    + " zone-to-zone channels meet at the broker's socket through the keeper (both ends)");
        } else {
            d.put("channels", "none: " + (vchan.isEmpty() ? "no " + Libxenvchan.LIBRARY
                    + " (libxenmisc4.17)" : "no " + settings.vchanProxy() + " (xen-utils-4.17)"));
        }
        return new Capabilities(features, maxVcpus, maxMemory, d);
    }

    private static int parseInt(String s, int otherwise) {
        try {
            return s == null ? otherwise : Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }

    /** libxenvchan, where dom0's loader would find it. */
    static Optional<Path> libxenvchan() {
        return SharedLibraries.HOST_FOLDERS.stream()
                .map(f -> f.resolve(Libxenvchan.LIBRARY)).filter(Files::isRegularFile)
                .findFirst();
    }

}

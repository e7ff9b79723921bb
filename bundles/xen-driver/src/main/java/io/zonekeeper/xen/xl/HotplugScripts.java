package io.zonekeeper.xen.xl;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;

import io.zonekeeper.hostio.AtomicFiles;

/**
 * The driver's own hotplug scripts for netback and blkback ({@code zk-vif}, {@code zk-block}), which libxl runs in
 * dom0 when a zone's devices come and go. They are bundle resources, written into the driver's cache folder on
 * first use and rewritten only when their text changes, so that a running domain's "remove" finds them.
 */
public final class HotplugScripts {
    public static final String VIF = "zk-vif";
    public static final String BLOCK = "zk-block";

    private final Path dir;

    public HotplugScripts(Path dir) {
        this.dir = dir;
    }

    /** The scripts, installed: the vif script's and the block script's paths. */
    public synchronized DomainConfig.Backends install(java.util.function.Predicate<String> linkExists)
            throws IOException {
        return new DomainConfig.Backends(installed(VIF), installed(BLOCK), linkExists);
    }

    private Path installed(String name) throws IOException {
        byte[] text;
        try (InputStream in = HotplugScripts.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException(name + " is missing from the xen-driver bundle");
            }
            text = in.readAllBytes();
        }
        Path target = dir.resolve(name);
        if (Files.isRegularFile(target) && Files.isExecutable(target)
                && Arrays.equals(Files.readAllBytes(target), text)) {
            return target;
        }
        AtomicFiles.write(target, PosixFilePermissions.fromString("rwxr-xr-x"), out -> out.write(text));
        return target;
    }
}

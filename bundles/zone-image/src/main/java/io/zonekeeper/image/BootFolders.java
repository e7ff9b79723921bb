package io.zonekeeper.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The folders a zone's own kernel and initramfs may come from: the driver's image cache, the host's {@code /boot}
 * and the folders the configuration adds. The hypervisor (QEMU, or libxl building a Xen domain) runs as root and opens
 * what it is told, so a spec must not be able to name any host file; a path is judged by its real path, so a symlink
 * cannot lead out. Both drivers confine by this one rule.
 */
public final class BootFolders {
    private final List<Path> folders;
    private final String configurationPid;

    /**
     * @param configurationPid the driver's configuration, whose {@code bootFolders} property adds folders (named in
     *                         the refusal, so that an operator knows where to allow one)
     */
    public BootFolders(Path cacheDir, Path bootDir, Collection<Path> configured, String configurationPid) {
        List<Path> f = new ArrayList<>(List.of(cacheDir, bootDir));
        f.addAll(configured);
        this.folders = List.copyOf(f);
        this.configurationPid = configurationPid;
    }

    public List<Path> folders() {
        return folders;
    }

    /**
     * The real path of the {@code what} (kernel or initramfs) a spec names, when it is a regular file inside one of
     * the folders (each judged by its own real path); otherwise an exception that says why.
     */
    public Path confine(String what, String path) throws IOException {
        Path real;
        try {
            real = Path.of(path).toRealPath();
        } catch (NoSuchFileException e) {
            throw new IOException(what + " " + path + " does not exist or is not a file", e);
        }
        for (Path folder : folders) {
            Path inside;
            try {
                inside = folder.toRealPath();
            } catch (IOException missing) {
                continue; // a folder that does not exist holds nothing
            }
            if (real.startsWith(inside)) {
                if (!Files.isRegularFile(real)) {
                    throw new IOException(what + " " + path + " does not exist or is not a file");
                }
                return real;
            }
        }
        throw new IOException(what + " " + path + (real.toString().equals(Path.of(path).normalize().toString()) ? ""
                : " (really " + real + ")") + " is outside the folders a zone's kernel and initramfs may come from ("
                + folders.stream().map(Path::toString).collect(Collectors.joining(", ")) + "); copy it there or allow"
                + " its folder in the configuration " + configurationPid + ", bootFolders");
    }
}

package io.zonekeeper.kvm.image;

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
 * and the folders the configuration adds. QEMU runs as root and opens what it is told, so a spec must not be able to
 * name any host file; a path is judged by its real path, so a symlink cannot lead out.
 */
public final class BootFolders {
    private final List<Path> folders;

    public BootFolders(Path cacheDir, Path bootDir, Collection<Path> configured) {
        List<Path> f = new ArrayList<>(List.of(cacheDir, bootDir));
        f.addAll(configured);
        this.folders = List.copyOf(f);
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
                + " its folder in the configuration io.zonekeeper.kvm, bootFolders");
    }
}

package io.zonekeeper.launcher;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Refuses to start while {@code etc/} or {@code deploy/} (or a file or folder right inside them, such as
 * {@code etc/zones}) is group- or world-writable: what is there runs as the appliance's user, often root, so
 * whoever can write there could take the host.
 */
final class WritableFolders {
    private WritableFolders() {
    }

    /** Throws with every offending path and the fix when any of {@code folders} is writable by others. */
    static void check(List<Path> folders) throws LaunchException {
        List<String> problems = new ArrayList<>();
        for (Path folder : folders) {
            inspect(folder, problems);
            if (Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder)) {
                    for (Path p : entries) {
                        inspect(p, problems);
                        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                            try (DirectoryStream<Path> inner = Files.newDirectoryStream(p)) {
                                inner.forEach(q -> inspect(q, problems));
                            }
                        }
                    }
                } catch (IOException e) {
                    problems.add(folder + " cannot be read (" + e.getMessage() + ")");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new LaunchException("refusing to start: " + String.join("; ", problems) + ". What is there runs "
                    + "as this appliance's user, so only that user may write it: chmod go-w each path named");
        }
    }

    private static void inspect(Path p, List<String> problems) {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(p)) {
            return; // a link's own mode means nothing; its target is checked where it lies inside these folders
        }
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | UnsupportedOperationException e) {
            problems.add(p + " has no readable permissions (" + e.getMessage() + ")");
            return;
        }
        boolean world = perms.contains(PosixFilePermission.OTHERS_WRITE);
        boolean group = perms.contains(PosixFilePermission.GROUP_WRITE);
        if (world || group) {
            problems.add(p + " is " + (world ? "world" : "group") + "-writable (" + PosixFilePermissions.toString(perms)
                    + ")");
        }
    }
}

package io.zonekeeper.images;

import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.image.ImageException;

/**
 * The name of a tar entry as a path inside the image: relative, without {@code .} or empty components, never
 * climbing with {@code ..}. The empty string is the root.
 */
final class EntryPath {
    private EntryPath() {
    }

    /**
     * @param where names the archive or layer for the message
     * @throws ImageException for an absolute name, a {@code ..} component or a NUL byte
     */
    static String normalize(String name, String where) throws ImageException {
        if (name.startsWith("/")) {
            throw new ImageException(where + ": entry '" + name + "' has an absolute path; refused");
        }
        if (name.indexOf('\0') >= 0) {
            throw new ImageException(where + ": entry '" + name.replace('\0', '?') + "' has a NUL byte in its name");
        }
        List<String> parts = new ArrayList<>();
        for (String p : name.split("/")) {
            if (p.equals("..")) {
                throw new ImageException(where + ": entry '" + name + "' climbs out with '..'; refused");
            }
            if (!p.isEmpty() && !p.equals(".")) {
                parts.add(p);
            }
        }
        return String.join("/", parts);
    }

    static String parent(String path) {
        int i = path.lastIndexOf('/');
        return i < 0 ? "" : path.substring(0, i);
    }

    static String base(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    static String child(String dir, String name) {
        return dir.isEmpty() ? name : dir + "/" + name;
    }
}

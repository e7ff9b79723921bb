package io.zonekeeper.passthrough.bind;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The one way this bundle changes the host: a write to a sysfs attribute. The kernel acts on the write (a bind, an
 * unbind); tests put a fake kernel here that does the same to a fixture tree, and can fail any write.
 */
@FunctionalInterface
public interface SysfsWriter {
    void write(Path attribute, String value) throws IOException;
}

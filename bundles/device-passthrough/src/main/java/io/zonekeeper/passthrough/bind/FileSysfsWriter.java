package io.zonekeeper.passthrough.bind;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes to real sysfs. It never creates a file: an attribute that is missing means the kernel lacks it. */
public final class FileSysfsWriter implements SysfsWriter {
    @Override
    public void write(Path attribute, String value) throws IOException {
        Files.writeString(attribute, value, StandardCharsets.US_ASCII, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
    }
}

package io.zonekeeper.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.zonekeeper.hostio.FileTail;

/**
 * The bytes a zone's channels moved, as its guest reports them on the console. Nothing on the host can count them
 * without sitting in the data path: QEMU keeps no byte counters for a chardev (QMP's {@code query-chardev} has a
 * label, a filename and whether the frontend is open), and a Unix socket has none either. The guest kernel does count
 * (virtio_console's debugfs file per port has {@code bytes_sent} and {@code bytes_received}), so the zone init prints
 *
 * <pre>zonekeeper: channel NAME sent N received M</pre>
 *
 * once after it is ready and then whenever the figures change (checked every 2 s), and once more before it powers
 * off. Figures count from the guest's boot. They are the guest's word: a guest that is not our zone init reports
 * nothing, and a hostile one could print anything about its own side; showing both ends' reports side by side
 * makes a disagreement visible.
 */
public final class ChannelCounters {
    /** What one guest reported for one channel. */
    public record Counters(long sent, long received) {
    }

    /** How much of the end of a console log is read: reports are small and repeated, a log may be large. */
    static final int TAIL = 256 * 1024;
    private static final Pattern REPORT = Pattern.compile(
            "zonekeeper: channel ([a-z0-9][a-z0-9._-]{0,31}) sent (\\d{1,19}) received (\\d{1,19})");

    private ChannelCounters() {
    }

    /**
     * The latest report per channel from the zone's last boot that reached its init ({@code zonekeeper: zone NAME
     * ready}); empty when the log does not exist or holds none.
     */
    public static Map<String, Counters> fromConsoleLog(Path log, String zone) {
        if (log == null || !Files.isRegularFile(log)) {
            return Map.of();
        }
        try {
            return parse(new String(FileTail.read(log, TAIL).bytes(), StandardCharsets.ISO_8859_1), zone);
        } catch (IOException e) {
            return Map.of();
        }
    }

    static Map<String, Counters> parse(String console, String zone) {
        int boot = console.lastIndexOf("zonekeeper: zone " + zone + " ready");
        Map<String, Counters> out = new LinkedHashMap<>();
        Matcher m = REPORT.matcher(console);
        if (boot >= 0) {
            m.region(boot, console.length());
        }
        while (m.find()) {
            try {
                out.put(m.group(1), new Counters(Long.parseLong(m.group(2)), Long.parseLong(m.group(3))));
            } catch (NumberFormatException e) {
                // Beyond a long: not a report of ours.
            }
        }
        return out;
    }
}

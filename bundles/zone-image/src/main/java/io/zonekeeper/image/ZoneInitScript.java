package io.zonekeeper.image;

import java.util.regex.Pattern;

/**
 * The zone init, PID 1 of every zone image: one script ({@code zone-init.sh}) for every hypervisor, with the
 * hypervisor's own hooks ({@code zone-init-HYPERVISOR.sh}) put in place of its hooks line.
 */
public final class ZoneInitScript {
    /** The init's line once a zone is up; {@code %s} is the zone name. */
    public static final String READY_MARKER = "zonekeeper: zone %s ready";
    /** The line of the script that the hooks replace. */
    static final String HOOKS_LINE = "#@zonekeeper-hypervisor-hooks@\n";
    private static final Pattern SAFE_MARKER = Pattern.compile("[A-Za-z0-9 :._-]{1,80}");

    private ZoneInitScript() {
    }

    /** The zone init for zones of {@code hypervisor}. */
    public static String render(Hypervisor hypervisor) {
        String script = resource("zone-init.sh");
        int at = script.indexOf(HOOKS_LINE);
        if (at < 0 || script.indexOf(HOOKS_LINE, at + 1) >= 0) {
            throw new IllegalStateException("zone-init.sh must hold the line " + HOOKS_LINE.trim() + " exactly once");
        }
        return script.substring(0, at) + hooks(hypervisor) + script.substring(at + HOOKS_LINE.length());
    }

    /** The hooks of {@code hypervisor} alone: shell variables and functions, no commands. */
    static String hooks(Hypervisor hypervisor) {
        return resource(hypervisor.hooksResource());
    }

    /** The init of a probe image: prints {@code marker} on the console and powers off at once. */
    public static String probe(String marker) {
        if (!SAFE_MARKER.matcher(marker).matches()) {
            throw new IllegalArgumentException("probe marker must be letters, digits, spaces or :._- : " + marker);
        }
        return "#!/bin/busybox sh\n/bin/busybox echo '" + marker + "'\n/bin/busybox poweroff -f\n";
    }

    private static String resource(String name) {
        return ImageFiles.bundledText(ZoneInitScript.class, name);
    }
}

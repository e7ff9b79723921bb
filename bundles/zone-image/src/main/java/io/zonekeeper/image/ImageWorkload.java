package io.zonekeeper.image;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.zonekeeper.api.WorkloadSpec;
import io.zonekeeper.api.image.ImageConfig;

/**
 * What an image zone's init runs: the image's config with the spec's workload over it, as {@code docker run} merges
 * them, and its encoding for the guest ({@link #encode}), which the driver hands over as a small read-only disk so
 * that no user string travels on the kernel command line.
 *
 * @param argv    Entrypoint followed by the spec's command, or by the image's Cmd when the spec gives none
 * @param env     the image's Env, each key the spec sets taking the spec's value, and a default PATH if none is set
 * @param workdir the folder to start in, "" for the image's root
 * @param user    the user to run as, "" for root; resolved in the guest through the image's /etc/passwd and /etc/group
 */
public record ImageWorkload(List<String> argv, List<String> env, String workdir, String user) {
    /** Docker's PATH for a container whose image sets none. */
    static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    /** The first line of the encoding; {@code zk-agent --workload} refuses anything else. */
    static final String MAGIC = "zk-workload 1\n";
    /** The most bytes the guest reads (zk-agent's MAX_WORKLOAD). */
    public static final int MAX_BYTES = 64 * 1024;
    private static final int SECTOR = 512;
    /**
     * The least disk size: the guest kernel's partition scan reads the first 16 sectors (its Amiga RDB check), and
     * a shorter disk makes it print "unable to read RDB block N" on the console.
     */
    static final int MIN_DISK = 8192;

    /** What the zone init prints when the workload has ended, before it powers off; the zone's name fills %s. */
    static final String EXIT_MARKER = "zonekeeper: zone %s workload exited ";

    public ImageWorkload {
        argv = List.copyOf(argv);
        env = List.copyOf(env);
    }

    /** The image's config with {@code spec} over it. */
    public static ImageWorkload merge(ImageConfig image, WorkloadSpec spec) {
        List<String> argv = new ArrayList<>(image.entrypoint());
        argv.addAll(spec.command().isEmpty() ? image.cmd() : spec.command());
        Map<String, String> env = new LinkedHashMap<>();
        for (String e : image.env()) {
            put(env, e);
        }
        for (String e : spec.env()) {
            put(env, e);
        }
        if (!env.containsKey("PATH")) {
            put(env, DEFAULT_PATH);
        }
        List<String> entries = new ArrayList<>();
        env.forEach((k, v) -> {
            if (v != null) {
                entries.add(k + "=" + v);
            }
        });
        return new ImageWorkload(argv, entries, spec.workdir().isEmpty() ? image.workingDir() : spec.workdir(),
                spec.user().isEmpty() ? image.user() : spec.user());
    }

    private static void put(Map<String, String> env, String entry) {
        int eq = entry.indexOf('=');
        // An entry without '=' names a variable and gives no value: it is left out of the environment.
        env.put(eq < 0 ? entry : entry.substring(0, eq), eq < 0 ? null : entry.substring(eq + 1));
    }

    /**
     * The workload as {@code zk-agent --workload} reads it: the line {@value #MAGIC} without its newline, then
     * NUL-terminated records, a tag letter and a value each ({@code a} an argument, in order; {@code e} an environment
     * entry; {@code d} the folder; {@code u} the user), the end record {@code .}, and zeros up to a whole number of
     * 512-byte sectors (a block device has no shorter end), {@link #MIN_DISK} at least.
     *
     * @throws IllegalArgumentException when there is no command, a value holds a NUL, or the whole is over
     *                                  {@link #MAX_BYTES}; the message names which
     */
    public byte[] encode() {
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("the image has no Entrypoint or Cmd and the spec gives no command:"
                    + " give one after -- in zone:create");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MAGIC.getBytes(StandardCharsets.US_ASCII));
        argv.forEach(a -> record(out, 'a', a));
        env.forEach(e -> record(out, 'e', e));
        if (!workdir.isEmpty()) {
            record(out, 'd', workdir);
        }
        if (!user.isEmpty()) {
            record(out, 'u', user);
        }
        record(out, '.', "");
        if (out.size() > MAX_BYTES) {
            throw new IllegalArgumentException("the workload (command, environment, folder and user) is " + out.size()
                    + " bytes, more than the " + MAX_BYTES + " the zone init reads");
        }
        int padded = Math.max(MIN_DISK, (out.size() + SECTOR - 1) / SECTOR * SECTOR);
        out.writeBytes(new byte[padded - out.size()]);
        return out.toByteArray();
    }

    private static void record(ByteArrayOutputStream out, char tag, String value) {
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("workload value '" + value.replace('\0', '?') + "' holds a NUL");
        }
        out.write(tag);
        out.writeBytes(value.getBytes(StandardCharsets.UTF_8));
        out.write(0);
    }

    /**
     * The exit status an image zone's init printed last ({@code zonekeeper: zone NAME workload exited N}), if the
     * console's last lines hold one. The init prints it right before it powers off, so it is among them.
     */
    public static Optional<Integer> exitStatus(String zoneName, List<String> lastLines) {
        String marker = String.format(EXIT_MARKER, zoneName);
        for (int i = lastLines.size() - 1; i >= 0; i--) {
            String l = lastLines.get(i).strip();
            if (l.startsWith(marker)) {
                try {
                    return Optional.of(Integer.parseInt(l.substring(marker.length()).strip()));
                } catch (NumberFormatException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }
}

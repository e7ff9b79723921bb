package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

/**
 * What the channel keeper serves for one zone, written by the driver (through {@link KeeperFolder}) before it asks
 * the keeper: the zone, its domain, and each channel's place (its index N: the zone serves it at
 * {@code <xsBase>/N}) and host socket.
 *
 * @param zone     the zone's id, which is also the domain's uuid
 * @param domid    the domain
 * @param xsBase   the xenstore folder of the zone's vchans ({@code /local/domain/D/data/vchan/0})
 * @param xenstore xenstored's socket in dom0
 * @param channels in spec order
 */
public record KeeperConfig(UUID zone, int domid, String xsBase, Path xenstore, List<Channel> channels) {

    /**
     * One channel's host end.
     *
     * @param name    the channel's name
     * @param socket  the Unix socket host programs (or the peer zone's keeper) use
     * @param listens true to listen on {@code socket}, false to connect to it (and reconnect) as the second zone of
     *                a zone-to-zone channel
     */
    public record Channel(String name, Path socket, boolean listens) {
    }

    public KeeperConfig {
        channels = List.copyOf(channels);
    }

    /** The xenstore folder where the zone serves its vchans to dom0 (client domain 0). */
    public static String xsBase(int domid) {
        return "/local/domain/" + domid + "/data/vchan/0";
    }

    /** The config as the properties text the keeper reads. */
    public String toText() {
        Properties p = new Properties();
        p.setProperty("zone", zone.toString());
        p.setProperty("domid", String.valueOf(domid));
        p.setProperty("xsBase", xsBase);
        p.setProperty("xenstore", xenstore.toString());
        p.setProperty("channels", String.valueOf(channels.size()));
        for (int i = 0; i < channels.size(); i++) {
            Channel c = channels.get(i);
            p.setProperty("channel." + i + ".name", c.name());
            p.setProperty("channel." + i + ".socket", c.socket().toString());
            p.setProperty("channel." + i + ".listens", String.valueOf(c.listens()));
        }
        StringWriter w = new StringWriter();
        try {
            p.store(w, "channel keeper config of zone " + zone + ", written by the xen driver");
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return w.toString();
    }

    public static KeeperConfig read(Path file) throws IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
    }

    /** Parses {@link #toText}'s text; {@code source} names it in the error. */
    public static KeeperConfig parse(String text, String source) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(text));
        try {
            List<Channel> channels = new ArrayList<>();
            int n = Integer.parseInt(p.getProperty("channels", "0"));
            for (int i = 0; i < n; i++) {
                channels.add(new Channel(required(p, "channel." + i + ".name"),
                        Path.of(required(p, "channel." + i + ".socket")),
                        Boolean.parseBoolean(required(p, "channel." + i + ".listens"))));
            }
            return new KeeperConfig(UUID.fromString(required(p, "zone")), Integer.parseInt(required(p, "domid")),
                    required(p, "xsBase"), Path.of(required(p, "xenstore")), channels);
        } catch (IllegalArgumentException e) {
            throw new IOException(source + ": " + e.getMessage(), e);
        }
    }

    private static String required(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("no " + key);
        }
        return v;
    }
}

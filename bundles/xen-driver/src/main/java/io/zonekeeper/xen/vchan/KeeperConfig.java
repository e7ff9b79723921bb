package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

/**
 * What a channel keeper serves, written by the driver into the zone's folder before it starts the keeper: the zone,
 * its domain, and each channel's place (its index N: the zone serves it at {@code <xsBase>/N}) and host socket.
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

    public void write(Path file) throws IOException {
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
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "channel keeper of zone " + zone + ", written by the xen driver");
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static KeeperConfig read(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
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
            throw new IOException(file + ": " + e.getMessage(), e);
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

package io.zonekeeper.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.PreparedChannel;

/**
 * Pairs zone-to-zone channels and arranges where they meet. Channel {@code NAME} between zones A and B exists only
 * when A's spec names {@code {NAME, peer: B}} and B's names {@code {NAME, peer: A}}; starting a zone whose channel is
 * not named back is refused, and the message names the missing half. The two QEMUs (or domains) meet at a Unix
 * socket {@code <state>/channels/<hash>.sock} that only the pair's name and the channel's name decide: the zone
 * whose name sorts first listens, the other connects and reconnects, so either may start first or restart.
 *
 * <p>Nothing of ours sits in the data path, and the broker keeps no state of its own: everything follows from the
 * specs, so an appliance restart or a driver upgrade changes nothing for a running channel. Host channels (no
 * peer) are the driver's, as before.
 */
public final class ChannelBroker {
    /** Longest Unix socket path (sun_path is 108 bytes with its terminating zero). */
    static final int MAX_SOCKET_PATH = 107;

    /** What the broker needs to know of a zone. {@code driver} is the type that last ran it, or null. */
    public record Party(String name, ZoneSpec spec, ZoneState state, String driver) {
    }

    /**
     * One end of a channel. {@code counters} are what the zone's guest last reported for its side, or null when it
     * reported nothing.
     */
    public record End(String zone, ZoneState state, String role, ChannelCounters.Counters counters) {
    }

    /**
     * A channel as {@code channel:list} shows it.
     *
     * @param name    the channel's name
     * @param ends    the zone ends: the listening one first; one end for a host channel and for a half
     * @param peer    for a host channel {@code host}; for a half, the zone it names that does not name it back
     * @param paired  true for a zone-to-zone channel both specs name, and for a host channel
     * @param state   for people: {@code both running}, {@code one side down (b STOPPED)}, {@code not paired: ...}
     * @param socket  the rendezvous socket of a zone-to-zone channel, or null
     */
    public record Channel(String name, List<End> ends, String peer, boolean paired, String state, String socket) {
        public Channel {
            ends = List.copyOf(ends);
        }

        public boolean toHost() {
            return "host".equals(peer) && ends.size() == 1 && paired;
        }
    }

    private final Path directory;

    /** @param directory where rendezvous sockets go: {@code <state>/channels} */
    public ChannelBroker(Path directory) {
        this.directory = directory.toAbsolutePath();
    }

    public Path directory() {
        return directory;
    }

    /** The zone of the two that listens: the one whose name sorts first, so both sides agree without talking. */
    static String listener(String zone, String peer) {
        return zone.compareTo(peer) < 0 ? zone : peer;
    }

    /**
     * The rendezvous of channel {@code channel} between two zones, whichever order they are given in. A digest keeps
     * it short (zone names may have 63 characters each) and equal for both sides.
     */
    Path socket(String zone, String peer, String channel) {
        String low = listener(zone, peer);
        String high = low.equals(zone) ? peer : zone;
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((low + "\n" + high + "\n" + channel).getBytes(StandardCharsets.UTF_8));
            return directory.resolve(HexFormat.of().formatHex(md.digest()).substring(0, 16) + ".sock");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Arranges the zone-to-zone channels of zone {@code name} for a start on a driver of type {@code driverType}:
     * one {@link PreparedChannel} per channel with a peer, in spec order. Refuses, naming every missing half, when a
     * peer does not exist, does not name the channel back to this zone, or runs on another driver type. Creates the
     * rendezvous folder (owner only) and nothing else.
     */
    public List<PreparedChannel> prepare(String name, String driverType, Map<String, Party> zones)
            throws ZoneException {
        Party self = zones.get(name);
        if (self == null) {
            throw new ZoneException("no zone named '" + name + "'");
        }
        List<String> problems = new ArrayList<>();
        List<PreparedChannel> out = new ArrayList<>();
        List<ChannelSpec> channels = self.spec().channels();
        for (int i = 0; i < channels.size(); i++) {
            ChannelSpec c = channels.get(i);
            if (c.peer() == null) {
                continue;
            }
            String why = missingHalf(self, c, zones.get(c.peer()));
            if (why == null) {
                why = otherDriver(c.peer(), zones.get(c.peer()), driverType);
            }
            if (why != null) {
                problems.add("channels[" + i + "] " + c.name() + "@" + c.peer() + ": " + why);
                continue;
            }
            Path sock = socket(name, c.peer(), c.name());
            int len = sock.toString().getBytes(StandardCharsets.UTF_8).length;
            if (len > MAX_SOCKET_PATH) {
                problems.add("channels[" + i + "] " + c.name() + "@" + c.peer() + ": its socket " + sock + " would be "
                        + len + " bytes, but a Unix socket path may have at most " + MAX_SOCKET_PATH + "; use a "
                        + "shorter state directory");
                continue;
            }
            String clash = clash(sock, name, c.peer(), c.name(), zones.values());
            if (clash != null) {
                problems.add("channels[" + i + "] " + c.name() + "@" + c.peer() + ": " + clash);
                continue;
            }
            out.add(new PreparedChannel(c.name(), c.peer(), sock.toString(), listener(name, c.peer()).equals(name)));
        }
        if (!problems.isEmpty()) {
            throw new ZoneException("zone " + name + " cannot start: " + String.join("; ", problems)
                    + " (a zone-to-zone channel exists only when both zones name it, each with the other as peer)");
        }
        if (!out.isEmpty()) {
            makeDirectory();
        }
        return out;
    }

    /** Why {@code peer} does not hold the other half of {@code self}'s channel {@code c}, or null when it does. */
    private static String missingHalf(Party self, ChannelSpec c, Party peer) {
        if (peer == null) {
            return "there is no zone " + c.peer() + "; create it with the channel " + c.name() + "@" + self.name();
        }
        ChannelSpec back = peer.spec().channels().stream().filter(x -> x.name().equals(c.name())).findFirst()
                .orElse(null);
        if (back == null) {
            return "zone " + c.peer() + " names no channel " + c.name() + "; it needs " + c.name() + "@" + self.name();
        }
        if (back.peer() == null) {
            return "zone " + c.peer() + " has " + c.name() + " as a host channel, not one to zone " + self.name();
        }
        if (!back.peer().equals(self.name())) {
            return "zone " + c.peer() + "'s channel " + c.name() + " goes to zone " + back.peer() + ", not to zone "
                    + self.name();
        }
        return null;
    }

    /** Both ends must be on one driver type: a QEMU socket and a Xen vchan do not meet. */
    private static String otherDriver(String peerName, Party peer, String driverType) {
        String peerType = peer.state().isActive() && peer.driver() != null ? peer.driver()
                : peer.spec().hypervisor();
        if (peerType != null && driverType != null && !peerType.equals(driverType)) {
            return "zone " + peerName + (peer.state().isActive() ? " runs" : " asks to run") + " on " + peerType
                    + " and this zone on " + driverType + "; both ends of a zone-to-zone channel must use one driver"
                    + " type";
        }
        return null;
    }

    /** Another pair whose rendezvous digest is the same (not expected to happen, but then it must not connect). */
    private String clash(Path sock, String zone, String peer, String channel, Collection<Party> zones) {
        for (Party p : zones) {
            for (ChannelSpec c : p.spec().channels()) {
                if (c.peer() == null) {
                    continue;
                }
                boolean same = c.name().equals(channel) && ((p.name().equals(zone) && c.peer().equals(peer))
                        || (p.name().equals(peer) && c.peer().equals(zone)));
                if (same) {
                    continue;
                }
                if (socket(p.name(), c.peer(), c.name()).equals(sock)) {
                    return "its socket name collides with that of channel " + c.name() + " between " + p.name()
                            + " and " + c.peer() + "; rename the channel";
                }
            }
        }
        return null;
    }

    private void makeDirectory() throws ZoneException {
        try {
            if (!Files.isDirectory(directory)) {
                Files.createDirectories(directory.getParent());
                // Owner only: a host process of another user must not be able to take a zone's channel.
                Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
            }
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // Made meanwhile by another start.
        } catch (IOException e) {
            throw new ZoneException("cannot make the channel folder " + directory + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes the rendezvous sockets zone {@code gone} listened on, once it is destroyed and its guest ended. Left
     * alone otherwise: a stopped listener's stale socket only makes the connecting side retry, and QEMU replaces it
     * when the listener starts again.
     */
    public void forget(String gone, ZoneSpec spec) {
        for (ChannelSpec c : spec.channels()) {
            if (c.peer() != null && listener(gone, c.peer()).equals(gone)) {
                try {
                    Files.deleteIfExists(socket(gone, c.peer(), c.name()));
                } catch (IOException ignored) {
                    // A leftover socket file is harmless: nothing listens on it.
                }
            }
        }
    }

    /**
     * Every channel the specs name: each zone-to-zone channel once with both ends, each half that is not named back,
     * and each host channel. {@code reports} gives what a zone's guest reported per channel name (empty when
     * nothing).
     */
    public List<Channel> channels(Map<String, Party> zones,
            Function<String, Map<String, ChannelCounters.Counters>> reports) {
        Map<String, Map<String, ChannelCounters.Counters>> seen = new LinkedHashMap<>();
        Function<String, Map<String, ChannelCounters.Counters>> cached = z -> seen.computeIfAbsent(z, reports);
        List<Channel> out = new ArrayList<>();
        for (Party self : zones.values().stream().sorted((a, b) -> a.name().compareTo(b.name())).toList()) {
            for (ChannelSpec c : self.spec().channels()) {
                End mine = new End(self.name(), self.state(), c.peer() == null ? "host" : listener(self.name(),
                        c.peer()).equals(self.name()) ? "listens" : "connects", cached.apply(self.name())
                                .get(c.name()));
                if (c.peer() == null) {
                    out.add(new Channel(c.name(), List.of(mine), "host", true, running(List.of(mine)), null));
                    continue;
                }
                Party peer = zones.get(c.peer());
                String why = missingHalf(self, c, peer);
                if (why != null) {
                    out.add(new Channel(c.name(), List.of(mine), c.peer(), false, "not paired: " + why, null));
                    continue;
                }
                if (!listener(self.name(), c.peer()).equals(self.name())) {
                    continue; // listed once, from the listening side
                }
                End theirs = new End(peer.name(), peer.state(), "connects", cached.apply(peer.name()).get(c.name()));
                List<End> ends = List.of(mine, theirs);
                out.add(new Channel(c.name(), ends, peer.name(), true, running(ends), socket(self.name(), peer.name(),
                        c.name()).toString()));
            }
        }
        return out;
    }

    /** {@code both running}, {@code running}, {@code one side down (b STOPPED)}, {@code down (a DEFINED)}. */
    private static String running(List<End> ends) {
        List<String> down = ends.stream().filter(e -> e.state() != ZoneState.RUNNING)
                .map(e -> e.zone() + " " + e.state()).toList();
        if (down.isEmpty()) {
            return ends.size() == 1 ? "running" : "both running";
        }
        if (down.size() == ends.size()) {
            return (ends.size() == 1 ? "down (" : "both down (") + String.join(", ", down) + ")";
        }
        return "one side down (" + String.join(", ", down) + ")";
    }
}

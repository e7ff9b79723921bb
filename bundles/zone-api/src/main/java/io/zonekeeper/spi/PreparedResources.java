package io.zonekeeper.spi;

import java.util.ArrayList;
import java.util.List;

/**
 * What the appliance prepared on the host for one start of a zone: network interfaces and disks in the order of the
 * spec's {@code networks} and {@code disks}, devices in the order of its {@code devices}, and the zone-to-zone
 * channels the broker arranged (a driver renders the spec's host channels itself when none is listed here).
 */
public record PreparedResources(List<PreparedNic> nics, List<PreparedDisk> disks, List<PreparedDevice> devices,
        List<PreparedChannel> channels) {
    public static final PreparedResources NONE = new PreparedResources(List.of(), List.of(), List.of(), List.of());

    public PreparedResources {
        nics = List.copyOf(nics);
        disks = List.copyOf(disks);
        devices = List.copyOf(devices);
        channels = List.copyOf(channels);
    }

    /** Networks and disks only (what spi 1.1 knew). */
    public PreparedResources(List<PreparedNic> nics, List<PreparedDisk> disks) {
        this(nics, disks, List.of(), List.of());
    }

    /** The channel the broker arranged under this name, or null. */
    public PreparedChannel channel(String name) {
        return channels.stream().filter(c -> c.name().equals(name)).findFirst().orElse(null);
    }

    /** Whether any device needs {@code need} of the machine. */
    public boolean needs(PlatformNeed need) {
        return devices.stream().anyMatch(d -> d.needs().contains(need));
    }

    /** Both together, this one's first. */
    public PreparedResources plus(PreparedResources other) {
        List<PreparedNic> n = new ArrayList<>(nics);
        n.addAll(other.nics);
        List<PreparedDisk> d = new ArrayList<>(disks);
        d.addAll(other.disks);
        List<PreparedDevice> v = new ArrayList<>(devices);
        v.addAll(other.devices);
        List<PreparedChannel> c = new ArrayList<>(channels);
        c.addAll(other.channels);
        return new PreparedResources(n, d, v, c);
    }
}

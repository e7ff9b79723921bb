package io.zonekeeper.spi;

import java.util.ArrayList;
import java.util.List;

/**
 * What resource providers prepared on the host for one start of a zone, in the order of the spec's
 * {@code networks} and {@code disks}.
 */
public record PreparedResources(List<PreparedNic> nics, List<PreparedDisk> disks) {
    public static final PreparedResources NONE = new PreparedResources(List.of(), List.of());

    public PreparedResources {
        nics = List.copyOf(nics);
        disks = List.copyOf(disks);
    }

    /** Both together, this one's first. */
    public PreparedResources plus(PreparedResources other) {
        List<PreparedNic> n = new ArrayList<>(nics);
        n.addAll(other.nics);
        List<PreparedDisk> d = new ArrayList<>(disks);
        d.addAll(other.disks);
        return new PreparedResources(n, d);
    }
}

package io.zonekeeper.disk.shell;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.disk.DiskException;
import io.zonekeeper.disk.DiskImage;
import io.zonekeeper.disk.DiskProvider;

/** The {@code disk:} shell commands. Each failure says what was wrong and changes nothing. */
@Component(service = DiskCommands.class)
@GogoCommand(scope = "disk", function = { "create", "list", "destroy", "orphans" })
public class DiskCommands {
    @Reference
    DiskProvider provider;
    @Reference
    ZoneManager zones;

    @Descriptor("Create an ext4 disk image in <state>/disks, empty or filled from a folder (no mount needed)")
    public String create(
            @Descriptor("size, such as 64M or 1G") @Parameter(names = "--size", absentValue = "") String size,
            @Descriptor("folder whose contents fill the image") @Parameter(names = "--from", absentValue = "") String from,
            @Descriptor("raw (default) or qcow2") @Parameter(names = "--format", absentValue = "raw") String format,
            @Descriptor("disk name") String name) throws DiskException {
        if (size.isEmpty()) {
            throw new DiskException("usage: disk:create NAME --size SIZE [--from DIR] [--format raw|qcow2] (--size "
                    + "is required)");
        }
        DiskImage d = provider.disks().create(name, size, from, format);
        return "disk " + d.name() + " " + d.path() + " (" + d.format() + ", " + d.bytes() + " bytes)";
    }

    @Descriptor("List the disk images in <state>/disks and who holds them (with --json the disks only: "
            + "disk:orphans lists the locks left by a crash)")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json)
            throws DiskException {
        if (json) {
            return DiskJson.list(provider.disks().list());
        }
        StringBuilder sb = new StringBuilder(String.format("%-16s %-7s %12s %-16s %s%n", "NAME", "FORMAT", "BYTES",
                "HOLDER", "PATH"));
        for (DiskImage d : provider.disks().list()) {
            sb.append(String.format("%-16s %-7s %12d %-16s %s%n", d.name(), d.format(), d.bytes(),
                    d.lock() == null ? "-" : d.lock().zone(), d.path()));
        }
        for (String o : provider.disks().orphans(activeZones())) {
            sb.append("orphan: ").append(o).append('\n');
        }
        return sb.toString();
    }

    /** Zones that run, and any whose uuid a live process (a QEMU its record lost) carries: both hold resources. */
    private Set<UUID> activeZones() {
        Set<UUID> ids = zones.list().stream().filter(z -> z.state().isActive()).map(ZoneInfo::id)
                .collect(Collectors.toCollection(java.util.HashSet::new));
        ids.addAll(io.zonekeeper.hostio.GuestProcessScan.host().all().values());
        return ids;
    }

    @Descriptor("List read-write locks that no running zone holds (left by a crash); --release gives back those of "
            + "zones this appliance does not know")
    public String orphans(
            @Descriptor("give them back: remove the locks") @Parameter(names = "--release", presentValue = "true", absentValue = "false") boolean release) {
        Set<UUID> active = activeZones();
        List<String> lines;
        if (release) {
            Set<UUID> known = zones.list().stream().map(ZoneInfo::id).collect(Collectors.toSet());
            lines = provider.disks().releaseOrphans(active, known);
        } else {
            lines = provider.disks().orphans(active).stream().map(o -> "orphan: " + o).toList();
        }
        return lines.isEmpty() ? "no orphans\n" : String.join("\n", lines) + "\n";
    }

    @Descriptor("Destroy a disk image; refused while a zone holds it or names it")
    public String destroy(@Descriptor("disk name") String name) throws DiskException {
        DiskImage d = provider.disks().find(name).orElseThrow(() -> new DiskException("no disk named '" + name
                + "'; disk:list shows the disks there are"));
        provider.disks().destroy(name, usersOf(d.path()));
        return "disk " + name + " destroyed";
    }

    private List<String> usersOf(Path image) {
        return zones.list().stream().filter(z -> z.spec().disks().stream().anyMatch(d -> same(d.path(), image)))
                .map(ZoneInfo::name).sorted().toList();
    }

    private static boolean same(String path, Path image) {
        try {
            return Path.of(path).toRealPath().equals(image.toRealPath());
        } catch (IOException e) {
            return false;
        }
    }
}

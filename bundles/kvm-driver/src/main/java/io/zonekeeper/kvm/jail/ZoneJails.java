package io.zonekeeper.kvm.jail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.kvm.qemu.Rendezvous;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedResources;

/**
 * The jails of one driver's zones: gives a starting zone its id, its cgroup and the empty chroot, takes them back
 * when the zone ends, and takes them up again when a running zone is adopted. The cgroup hierarchy is looked up on
 * first use, not at activation.
 */
public final class ZoneJails {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.kvm");
    private final JailSettings settings;
    private final Path root;
    private final JailIds ids;
    private final Map<UUID, ZoneJail> jails = new ConcurrentHashMap<>();
    private volatile CgroupHierarchy cgroups;

    /** @param root the empty folder every jailed QEMU is chrooted into */
    public ZoneJails(JailSettings settings, Path root) {
        this.settings = settings;
        this.root = root.toAbsolutePath();
        this.ids = JailIds.forHost(settings.idBase(), settings.idCount());
    }

    public JailSettings settings() {
        return settings;
    }

    /** Why a zone runs unconfined, or empty when it gets a jail. */
    public Optional<String> whyUnjailed(ZoneSpec spec, PreparedResources res) {
        if (!settings.enabled()) {
            return Optional.of("jail=false in the configuration");
        }
        if (!runsAsRoot()) {
            return Optional.of("the appliance does not run as root, so QEMU cannot switch to a uid of its own");
        }
        return Optional.empty();
    }

    /**
     * The zone's jail: its id, its root (the shared empty one, or for a zone that connects to another zone one of
     * its own, {@code <state>/kvm-jails/<uuid>}, holding only the empty folders its channels are bound onto) and its
     * cgroup with the spec's limits. On failure nothing stays held.
     */
    public ZoneJail open(UUID zone, ZoneSpec spec, PreparedResources res) throws DriverException {
        int id = ids.take(zone);
        Map<String, Path> connecting = new LinkedHashMap<>();
        for (ChannelSpec c : spec.channels()) {
            PreparedChannel p = c.peer() == null ? null : res.channel(c.name());
            if (p != null && !p.listens()) {
                connecting.put(c.name(), Rendezvous.dir(p));
            }
        }
        Path zoneRoot = connecting.isEmpty() ? root : ownRoot(zone);
        try {
            if (connecting.isEmpty()) {
                emptyRoot();
            } else {
                makeOwnRoot(zoneRoot, connecting.size());
            }
            CgroupHierarchy h = hierarchy();
            Optional<Path> group = Optional.empty();
            if (h.available()) {
                group = Optional.of(h.create(zone, CgroupLimits.of(spec.memoryMiB(), spec.vcpus(),
                        settings.memoryOverheadMiB())));
            }
            ZoneJail jail = new ZoneJail(id, id, zoneRoot, group, connecting);
            jails.put(zone, jail);
            return jail;
        } catch (DriverException | RuntimeException e) {
            ids.release(zone);
            if (!zoneRoot.equals(root)) {
                removeOwnRoot(zoneRoot);
            }
            throw e;
        }
    }

    /** The folder that holds the own roots of zones with connecting channels, beside the shared empty root. */
    Path ownRoots() {
        return root.resolveSibling(root.getFileName() + "s");
    }

    /** The root of a zone with connecting channels. */
    Path ownRoot(UUID zone) {
        return ownRoots().resolve(zone.toString());
    }

    /**
     * Makes the zone's own root afresh: root-owned, read-only, with the empty folders {@code c0}, {@code c1}, ...
     * Whatever a former start left is removed first (its binds were in a namespace that ended with its QEMU).
     */
    private void makeOwnRoot(Path zoneRoot, int channels) throws DriverException {
        removeOwnRoot(zoneRoot);
        try {
            Files.createDirectories(zoneRoot.getParent());
            Files.setPosixFilePermissions(zoneRoot.getParent(), PosixFilePermissions.fromString("rwx--x--x"));
            Files.createDirectory(zoneRoot);
            for (int n = 0; n < channels; n++) {
                Files.createDirectory(zoneRoot.resolve(ZoneJail.folderOf(n)), PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("r-xr-xr-x")));
            }
            Files.setPosixFilePermissions(zoneRoot, PosixFilePermissions.fromString("r-xr-xr-x"));
        } catch (IOException e) {
            throw new DriverException("cannot make the jail root " + zoneRoot + ": " + e.getMessage(), e);
        }
    }

    /** Removes a zone's own root and its (empty) channel folders; a folder something is still mounted on stays. */
    private static void removeOwnRoot(Path zoneRoot) {
        if (!Files.isDirectory(zoneRoot, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.list(zoneRoot)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(zoneRoot);
        } catch (IOException e) {
            // A leftover empty folder holds nothing; the zone's next start makes it afresh.
        }
    }

    /** Takes back the zone's id and removes its cgroup; call once its QEMU is gone. */
    public void close(UUID zone) {
        ZoneJail jail = jails.remove(zone);
        ids.release(zone);
        removeOwnRoot(ownRoot(zone));
        if (jail != null) {
            jail.cgroup().ifPresent(CgroupHierarchy::remove);
        } else if (settings.enabled()) {
            // A zone whose QEMU ended while no driver watched it (the appliance was down): its group is still there.
            hierarchy().groupOf(zone).ifPresent(CgroupHierarchy::remove);
        }
    }

    /** Holds the jail a running zone's record names again, so that no other zone gets its id. */
    public Optional<ZoneJail> adopt(UUID zone, Map<String, String> record) {
        Optional<ZoneJail> jail = ZoneJail.fromRecord(record);
        jail.ifPresent(j -> {
            ids.hold(zone, j.uid());
            jails.put(zone, j);
        });
        return jail;
    }

    public Optional<ZoneJail> of(UUID zone) {
        return Optional.ofNullable(jails.get(zone));
    }

    /** For {@code driver:info}. */
    public Map<String, String> describe() {
        String jail = settings.enabled() && runsAsRoot()
                ? "on: each zone's QEMU runs as its own uid and gid (" + settings.idBase() + "-"
                        + (settings.idBase() + settings.idCount() - 1) + ", -runas), chrooted into the empty " + root
                        + " (a zone that connects to another zone's channel: a root of its own, " + ownRoots()
                        + "/<zone uuid>, that shows it only that channel's folder), in the seccomp sandbox"
                : "off: " + (settings.enabled() ? "the appliance does not run as root" : "jail=false");
        return Map.of("jail", jail, "cgroup", hierarchy().describe() + " (memory: guest + "
                + settings.memoryOverheadMiB() + " MiB)", "limits", limits());
    }

    /** Whether zones' cgroup limits hold on this host, in one line ({@link CgroupHierarchy#limits}). */
    public String limits() {
        return hierarchy().limits();
    }

    /** Looks the cgroup hierarchy up now, so that its warning, if any, comes when the driver starts. */
    public void lookUpCgroups() {
        hierarchy();
    }

    private CgroupHierarchy hierarchy() {
        CgroupHierarchy h = cgroups;
        if (h == null) {
            h = settings.enabled() && runsAsRoot()
                    ? CgroupHierarchy.find(Path.of("/proc/self/mountinfo"), settings.cgroupParent())
                    : CgroupHierarchy.none("the jail is off");
            cgroups = h;
            if (!h.limits().startsWith("enforced")) {
                LOG.log(System.Logger.Level.WARNING, "limits: " + h.limits() + "; zones' QEMUs run without memory,"
                        + " pids or cpu caps");
            }
        }
        return h;
    }

    /** Makes the chroot folder if need be, and refuses one that holds anything or that others may write to. */
    private void emptyRoot() throws DriverException {
        try {
            if (!Files.isDirectory(root)) {
                Files.createDirectories(root.getParent());
                Files.createDirectory(root, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("r-xr-xr-x")));
            }
            try (Stream<Path> s = Files.list(root)) {
                Optional<Path> any = s.findFirst();
                if (any.isPresent()) {
                    throw new DriverException("the jail root " + root + " must be empty, but holds "
                            + any.get().getFileName() + "; remove what is in it");
                }
            }
            if (!PosixFilePermissions.toString(Files.getPosixFilePermissions(root)).equals("r-xr-xr-x")) {
                Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("r-xr-xr-x"));
            }
        } catch (IOException e) {
            throw new DriverException("cannot prepare the jail root " + root + ": " + e.getMessage(), e);
        }
    }

    private static boolean runsAsRoot() {
        try {
            return "0".equals(String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid")));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}

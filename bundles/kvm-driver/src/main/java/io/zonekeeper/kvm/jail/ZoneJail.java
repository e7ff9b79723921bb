package io.zonekeeper.kvm.jail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.zonekeeper.kvm.qemu.LaunchScript;
import io.zonekeeper.kvm.qemu.QemuCommandLine;
import io.zonekeeper.kvm.qemu.Rendezvous;

/**
 * How one zone's QEMU is confined. QEMU opens everything on its command line (kernel, initramfs, disks, taps,
 * /dev/kvm, sockets) as root, then, before the guest runs its first instruction, chroots into {@code root} (an
 * empty folder) and switches to {@code uid}:{@code gid} with no other groups ({@code -runas uid:gid}, which QEMU
 * 7.2 accepts). From then on QEMU holds what it opened as descriptors and can open nothing new of the host's.
 *
 * @param cgroup     the zone's cgroup v2 group, which QEMU joins before it runs; empty where the host has none
 * @param connecting the rendezvous folder of each channel this zone connects to, by channel name. Such a zone gets
 *                   a root of its own, holding one empty folder {@code cN} per such channel, onto which its launch
 *                   binds the rendezvous folder in a mount namespace of QEMU's own; QEMU connects (and reconnects,
 *                   after its chroot) to {@code cN/s}, a path that names the same socket before and after the chroot
 *                   because QEMU starts in its root and chroot leaves it at {@code /}
 */
public record ZoneJail(int uid, int gid, Path root, Optional<Path> cgroup, Map<String, Path> connecting) {
    public ZoneJail {
        connecting = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(connecting));
    }

    /** A jail for a zone that connects to no other zone. */
    public ZoneJail(int uid, int gid, Path root, Optional<Path> cgroup) {
        this(uid, gid, root, cgroup, Map.of());
    }

    /** Runtime record keys. */
    public static final String R_UID = "jail.uid";
    public static final String R_GID = "jail.gid";
    public static final String R_ROOT = "jail.root";
    public static final String R_CGROUP = "cgroup";

    /**
     * QEMU's arguments with the jail added: {@code -runas} and {@code -chroot} after the sandbox, whose
     * {@code elevateprivileges} becomes {@code allow}, because QEMU's own switch to the zone's uid is a setuid
     * call that {@code deny} kills. After the switch QEMU has no capabilities and no_new_privs, so a set*id call
     * of a compromised QEMU can only keep the ids it has. A connecting channel's socket becomes its path inside the
     * jail, {@code cN/s}.
     */
    public List<String> qemuArgv(List<String> argv) {
        List<String> a = new ArrayList<>(argv.size() + 4);
        boolean sandboxed = false;
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            a.add(inJail(arg));
            if (arg.equals("-sandbox") && i + 1 < argv.size()) {
                a.add(argv.get(++i).replace("elevateprivileges=deny", "elevateprivileges=allow"));
                a.addAll(List.of("-runas", uid + ":" + gid, "-chroot", root.toString()));
                sandboxed = true;
            }
        }
        if (!sandboxed) {
            throw new IllegalArgumentException("a jailed QEMU must run in the seccomp sandbox; the command line has"
                    + " no -sandbox");
        }
        return a;
    }

    private String inJail(String arg) {
        int n = 0;
        for (Map.Entry<String, Path> c : connecting.entrySet()) {
            String host = "socket,id=ch-" + c.getKey() + ",path=" + c.getValue().resolve(
                    Rendezvous.SOCKET) + QemuCommandLine.RECONNECT;
            if (arg.equals(host)) {
                return "socket,id=ch-" + c.getKey() + ",path=" + folderOf(n) + "/" + Rendezvous.SOCKET
                        + QemuCommandLine.RECONNECT;
            }
            n++;
        }
        return arg;
    }

    /** The folder, relative to the jail root, where the n-th connecting channel's rendezvous folder appears. */
    static String folderOf(int n) {
        return "c" + n;
    }

    /** The rendezvous folders to bind into the root, in the order of {@link #connecting}. */
    public List<LaunchScript.Bind> binds() {
        List<LaunchScript.Bind> b = new ArrayList<>();
        int n = 0;
        for (Path dir : connecting.values()) {
            b.add(new LaunchScript.Bind(dir, root.resolve(folderOf(n++))));
        }
        return b;
    }

    /** How QEMU's process gets into this jail: the binds, the cgroup, the root as its first folder, the disks. */
    public LaunchScript launchScript(List<String> redirections) {
        return new LaunchScript(binds(), cgroup, connecting.isEmpty() ? Optional.empty() : Optional.of(root),
                redirections);
    }

    public void putInto(Map<String, String> record) {
        record.put(R_UID, String.valueOf(uid));
        record.put(R_GID, String.valueOf(gid));
        record.put(R_ROOT, root.toString());
        cgroup.ifPresent(c -> record.put(R_CGROUP, c.toString()));
    }

    /** The jail a runtime record names, or empty for a zone started without one (or by an older driver). */
    public static Optional<ZoneJail> fromRecord(Map<String, String> record) {
        try {
            String uid = record.get(R_UID);
            String gid = record.get(R_GID);
            String root = record.get(R_ROOT);
            if (uid == null || gid == null || root == null) {
                return Optional.empty();
            }
            return Optional.of(new ZoneJail(Integer.parseInt(uid), Integer.parseInt(gid), Path.of(root),
                    Optional.ofNullable(record.get(R_CGROUP)).map(Path::of)));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}

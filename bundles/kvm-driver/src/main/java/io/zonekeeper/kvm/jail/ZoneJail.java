package io.zonekeeper.kvm.jail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How one zone's QEMU is confined. QEMU opens everything on its command line (kernel, initramfs, disks, taps,
 * /dev/kvm, sockets) as root, then, before the guest runs its first instruction, chroots into {@code root} (an
 * empty folder) and switches to {@code uid}:{@code gid} with no other groups ({@code -runas uid:gid}, which QEMU
 * 7.2 accepts). From then on QEMU holds what it opened as descriptors and can open nothing new of the host's.
 *
 * @param cgroup the zone's cgroup v2 group, which QEMU joins before it runs (a wrapper shell writes its own pid
 *               into {@code cgroup.procs} and execs QEMU); empty where the host has none
 */
public record ZoneJail(int uid, int gid, Path root, Optional<Path> cgroup) {
    /** Runtime record keys. */
    public static final String R_UID = "jail.uid";
    public static final String R_GID = "jail.gid";
    public static final String R_ROOT = "jail.root";
    public static final String R_CGROUP = "cgroup";

    /**
     * QEMU's arguments with the jail added: {@code -runas} and {@code -chroot} after the sandbox, whose
     * {@code elevateprivileges} becomes {@code allow}, because QEMU's own switch to the zone's uid is a setuid
     * call that {@code deny} kills. After the switch QEMU has no capabilities and no_new_privs, so a set*id call
     * of a compromised QEMU can only keep the ids it has.
     */
    public List<String> qemuArgv(List<String> argv) {
        List<String> a = new ArrayList<>(argv.size() + 4);
        boolean sandboxed = false;
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            a.add(arg);
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

    /** The command that puts itself into the zone's cgroup and becomes QEMU (the same pid), or QEMU alone. */
    public List<String> launchArgv(List<String> argv) {
        List<String> qemu = qemuArgv(argv);
        if (cgroup.isEmpty()) {
            return qemu;
        }
        List<String> a = new ArrayList<>(List.of("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                cgroup.get().resolve("cgroup.procs").toString()));
        a.addAll(qemu);
        return a;
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

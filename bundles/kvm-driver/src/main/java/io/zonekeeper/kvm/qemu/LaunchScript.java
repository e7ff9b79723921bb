package io.zonekeeper.kvm.qemu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What runs between the appliance's launch and QEMU's first instruction, in QEMU's own process (each step execs
 * the next, so the pid the appliance knows is QEMU's): in a mount namespace of its own, where there are folders to
 * bind into the zone's jail (only that process sees them; they go when QEMU ends); into the zone's cgroup; into
 * its folder; and QEMU with the handed-over disks open on its descriptors 3, 4, ...
 *
 * @param binds        host folders mounted onto folders of the zone's jail root, in a private mount namespace
 * @param cgroup       the zone's cgroup v2 group, which the process joins, or empty
 * @param workDir      the folder QEMU starts in, where relative paths on its command line resolve before and after
 *                     its chroot (QEMU changes to the new root's {@code /}), or empty
 * @param redirections descriptors QEMU gets, as {@link DiskHandoff#redirections()} writes them
 */
public record LaunchScript(List<Bind> binds, Optional<Path> cgroup, Optional<Path> workDir,
        List<String> redirections) {
    /** A host folder and the folder, inside the jail root, it appears at. */
    public record Bind(Path source, Path target) {
    }

    public LaunchScript {
        binds = List.copyOf(binds);
        redirections = List.copyOf(redirections);
    }

    /** The command to launch: QEMU alone when there is nothing to do first. */
    public List<String> wrap(List<String> qemu) {
        if (binds.isEmpty() && cgroup.isEmpty() && workDir.isEmpty() && redirections.isEmpty()) {
            return qemu;
        }
        List<String> steps = new ArrayList<>();
        for (Bind b : binds) {
            steps.add("mount --bind " + quoted(b.source()) + " " + quoted(b.target()));
        }
        cgroup.ifPresent(g -> steps.add("echo $$ > " + quoted(g.resolve("cgroup.procs"))));
        workDir.ifPresent(d -> steps.add("cd " + quoted(d)));
        StringBuilder exec = new StringBuilder("exec \"$@\"");
        for (String r : redirections) {
            exec.append(' ').append(r);
        }
        steps.add(exec.toString());
        List<String> a = new ArrayList<>();
        if (!binds.isEmpty()) {
            // Private propagation: the binds never show on the host, and the host's later mounts do not reach QEMU.
            a.addAll(List.of("unshare", "--mount", "--propagation", "private"));
        }
        a.addAll(List.of("/bin/sh", "-c", String.join(" && ", steps), "zk-qemu-launch"));
        a.addAll(qemu);
        return a;
    }

    /** A path as one shell word: single quotes, with each quote in it closed, escaped and reopened. */
    static String quoted(Path p) {
        return "'" + p.toString().replace("'", "'\\''") + "'";
    }
}

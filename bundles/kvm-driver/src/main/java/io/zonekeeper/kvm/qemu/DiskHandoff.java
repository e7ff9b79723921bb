package io.zonekeeper.kvm.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.kvm.accel.KvmIoctlSelfTest;
import io.zonekeeper.kvm.accel.Libc;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedDisk;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;

/**
 * Hands a zone's disks to QEMU as open files instead of paths, so that nothing can swap a checked image for
 * another file between the appliance's check and QEMU's open. The driver opens each prepared disk (already
 * confined to its real path by zone-disk) with {@code O_NOFOLLOW} and refuses it unless the open file is that very
 * path and a regular file. The launch shell then opens {@code /proc/<appliance pid>/fd/N}, which names the open file
 * itself, not a path, as descriptor 3, 4, ... for QEMU, and QEMU gets it with {@code -add-fd fd=3,set=1} and opens
 * the disk as {@code /dev/fdset/1}. The shell (dash) takes descriptors up to 9, so the first {@link #MAX_DISKS}
 * disks go so; any further ones keep their checked paths.
 */
public final class DiskHandoff implements AutoCloseable {
    public static final int MAX_DISKS = 7;
    static final int FIRST_FD = 3;
    private static final int O_RDONLY = 0;
    private static final int O_NOFOLLOW = 0x20000;

    private final List<Integer> fds;
    private final List<Boolean> writable;
    private final long pid;
    private final Libc libc;

    private DiskHandoff(List<Integer> fds, List<Boolean> writable, long pid, Libc libc) {
        this.fds = fds;
        this.writable = writable;
        this.pid = pid;
        this.libc = libc;
    }

    /** Hands over nothing: every disk keeps its path (for tests of the command line alone). */
    public static DiskHandoff none() {
        return new DiskHandoff(new ArrayList<>(), new ArrayList<>(), ProcessHandle.current().pid(), null);
    }

    /** Opens the first {@link #MAX_DISKS} disks; on a refusal closes what it opened and names the disk. */
    public static DiskHandoff open(List<PreparedDisk> disks) throws DriverException {
        if (disks.isEmpty()) {
            return none();
        }
        Libc libc = KvmIoctlSelfTest.libc();
        List<Integer> fds = new ArrayList<>();
        List<Boolean> writable = new ArrayList<>();
        DiskHandoff h = new DiskHandoff(fds, writable, ProcessHandle.current().pid(), libc);
        try {
            for (int i = 0; i < Math.min(MAX_DISKS, disks.size()); i++) {
                PreparedDisk d = disks.get(i);
                int fd = libc.open(d.path(), (d.readOnly() ? O_RDONLY : Libc.O_RDWR) | O_NOFOLLOW | Libc.O_CLOEXEC);
                if (fd < 0) {
                    int errno = jnr.ffi.Runtime.getRuntime(libc).getLastError();
                    throw new DriverException("disk " + d.name() + ": cannot open " + d.path() + ": "
                            + libc.strerror(errno) + (errno == 40 ? " (it is a symbolic link now, not the image"
                            + " that was checked)" : ""));
                }
                fds.add(fd);
                writable.add(!d.readOnly());
                refuseUnlessChecked(d, Path.of("/proc/self/fd/" + fd));
            }
            return h;
        } catch (DriverException | RuntimeException e) {
            h.close();
            throw e;
        }
    }

    /** The open file must be the checked path itself, a regular file: a path whose folders were swapped is not. */
    static void refuseUnlessChecked(PreparedDisk d, Path open) throws DriverException {
        try {
            Path really = Files.readSymbolicLink(open);
            if (!really.toString().equals(d.path()) || !Files.isRegularFile(open)) {
                throw new DriverException("disk " + d.name() + ": " + d.path() + " changed after it was checked: it"
                        + " now opens " + really + (Files.isRegularFile(open) ? "" : ", not a regular file")
                        + "; nothing was started");
            }
        } catch (IOException e) {
            throw new DriverException("disk " + d.name() + ": cannot read back the open file of " + d.path() + ": "
                    + e.getMessage(), e);
        }
    }

    public int count() {
        return fds.size();
    }

    /**
     * QEMU's arguments with each handed-over disk's file node reading {@code /dev/fdset/K} and an {@code -add-fd}
     * for it before the first {@code -blockdev}. The file nodes are those {@link QemuCommandLine} names
     * {@code f0}, {@code f1}, ...
     */
    public List<String> qemuArgv(List<String> argv) {
        if (fds.isEmpty()) {
            return argv;
        }
        List<String> a = new ArrayList<>(argv.size() + 2 * fds.size());
        boolean added = false;
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            if (arg.equals("-blockdev") && i + 1 < argv.size()) {
                if (!added) {
                    for (int k = 0; k < fds.size(); k++) {
                        a.addAll(List.of("-add-fd", "fd=" + (FIRST_FD + k) + ",set=" + (k + 1) + ",opaque=disk" + k));
                    }
                    added = true;
                }
                a.add(arg);
                a.add(fileNodeOnFdset(argv.get(++i)));
            } else {
                a.add(arg);
            }
        }
        return a;
    }

    private String fileNodeOnFdset(String json) {
        JsonObject node = Json.createReader(new java.io.StringReader(json)).readObject();
        String name = node.getString("node-name", "");
        if (!"file".equals(node.getString("driver", "")) || !name.matches("f[0-9]+")) {
            return json;
        }
        int k = Integer.parseInt(name.substring(1));
        if (k >= fds.size()) {
            return json;
        }
        JsonObjectBuilder b = Json.createObjectBuilder(node);
        b.add("filename", "/dev/fdset/" + (k + 1));
        return b.build().toString();
    }

    /** For the launch shell: {@code 3<>/proc/PID/fd/N} (read-write) or {@code 4</proc/PID/fd/N} per disk. */
    public List<String> redirections() {
        List<String> r = new ArrayList<>();
        for (int k = 0; k < fds.size(); k++) {
            r.add((FIRST_FD + k) + (writable.get(k) ? "<>" : "<") + "/proc/" + pid + "/fd/" + fds.get(k));
        }
        return r;
    }

    /** Closes the appliance's copies; QEMU keeps its own once it runs. */
    @Override
    public void close() {
        for (int fd : fds) {
            libc.close(fd);
        }
        fds.clear();
    }
}

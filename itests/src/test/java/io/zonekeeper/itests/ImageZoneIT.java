package io.zonekeeper.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;

import javax.inject.Inject;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.service.cm.ConfigurationAdmin;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;

/**
 * An image as a zone, end to end in a real Felix with the image store and the KVM driver: the test writes an OCI
 * layout of two layers (the host's static busybox as the image's /bin/sh; the second layer whites out a file of the
 * first, makes a folder opaque, and adds a file owned by uid 1000 and a setuid file), imports it, creates the zone
 * with {@code zone:create --image} and workload options, and reads what the entrypoint printed in its workload log
 * ({@code zone:logs --workload}, apart from the kernel's console) and the exit status in {@code zone:info}.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ImageZoneIT {
    private static final Path STATE = Containers.newStateDir("image-zone");
    private static final String ENTRY = "#!/bin/sh\n"
            + "if [ \"$1\" = exec ]; then shift; exec \"$@\"; fi\n"
            + "echo \"image-zone: entry ran as $(busybox id -u):$(busybox id -g) in $(busybox pwd) GREETING=$GREETING"
            + " args=$*\"\n"
            + "if [ -e /gone.txt ]; then echo 'image-zone: gone.txt present'; else echo 'image-zone: gone.txt absent'; fi\n"
            + "echo \"image-zone: opq holds $(busybox ls /opq | busybox tr '\\n' ' ')\"\n"
            + "busybox stat -c 'image-zone: stat %n %u:%g %a' /data/owned.txt /bin/suid\n"
            + "busybox touch /data/written && echo 'image-zone: the writable layer takes writes'\n"
            + "echo \"image-zone: HOME=$HOME\"\n"
            + "echo 'image-zone: this went to stderr' >&2\n"
            + "exit 3\n";

    @Inject
    CommandProcessor shell;
    @Inject
    ZoneManager zones;
    @Inject
    ConfigurationAdmin config;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.imagesBesideKvm(),
                Containers.ours("zone-agent") };
    }

    @After
    public void destroyEverything() {
        for (ZoneInfo z : zones.list()) {
            Containers.run(shell, "zone:destroy " + z.name());
        }
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    @Test
    public void anImagesEntrypointRunsAsItsUserOverItsLayersAndItsExitStatusReachesZoneInfo() throws Exception {
        Path layout = writeLayout(Files.createTempDirectory("zk-it-image-zone"));
        sh("image:import --tag it/zone:1 " + layout);

        String unknown = Containers.run(shell, "zone:create --image it/nosuch:1 typo").error();
        assertTrue(unknown, unknown.contains("image it/nosuch:1"));

        sh("zone:create --image it/zone:1 --memory 256 --env GREETING=hi --user app --workdir /data iz -- one two");
        sh("zone:start iz");
        sh("zone:wait --timeout 180 iz STOPPED");
        String info = sh("zone:info iz");
        String console = sh("zone:logs iz");
        String workload = sh("zone:logs --workload iz");
        System.out.println("image zone console:\n" + console + "\nimage zone workload log:\n" + workload);
        assertTrue(info + "\n" + console, info.contains("workload exited 3"));
        assertTrue(console, console.contains("zonekeeper: zone iz workload exited 3"));
        assertFalse("the workload's output is kept apart from the kernel's lines: " + console,
                console.contains("image-zone:"));
        assertTrue(workload, workload.contains("image-zone: this went to stderr"));
        assertTrue(workload, workload.contains("image-zone: HOME=/data")); // app's home in the image's /etc/passwd
        assertTrue(workload, workload.contains("image-zone: entry ran as 1000:1000 in /data GREETING=hi args=one two"));
        assertTrue(workload, workload.contains("image-zone: gone.txt absent"));
        assertTrue(workload, workload.contains("image-zone: opq holds new.txt "));
        assertTrue(workload, workload.contains("image-zone: stat /data/owned.txt 1000:1000 640"));
        assertTrue(workload, workload.contains("image-zone: stat /bin/suid 0:0 4755"));
        assertTrue(workload, workload.contains("image-zone: the writable layer takes writes"));

        String refused = Containers.run(shell, "image:remove it/zone:1").error();
        assertTrue(refused, refused.contains("used by zone(s) iz"));
    }

    @Test
    public void zoneStopSendsTheWorkloadSigtermAndTheZonePowersOffWhenItHasEnded() throws Exception {
        Path layout = writeLayout(Files.createTempDirectory("zk-it-image-stop"));
        sh("image:import --tag it/stop:1 " + layout);
        sh("zone:create --image it/stop:1 --memory 256 stopper -- exec busybox sh -c"
                + " 'trap \"echo image-zone: got TERM; exit 7\" TERM; echo image-zone: waiting; while :; do busybox sleep 1; done'");
        sh("zone:start stopper");
        sh("zone:wait --timeout 180 --workload --console 'image-zone: waiting' stopper");
        // zone:exec runs in the image's root: the image's /etc/passwd, which the zone image has not, names app.
        String passwd = sh("zone:exec stopper -- busybox cat /etc/passwd");
        assertTrue(passwd, passwd.contains("app:x:1000:1000:app:/data:/bin/sh"));
        String id = sh("zone:exec --user app stopper -- busybox id");
        assertTrue(id, id.contains("uid=1000(app) gid=1000(app)"));
        // HOME comes from the image's /etc/passwd for the user the command runs as.
        String home = sh("zone:exec --user app stopper -- busybox sh -c 'echo HOME=$HOME'");
        assertTrue(home, home.contains("HOME=/data"));
        home = sh("zone:exec stopper -- busybox sh -c 'echo HOME=$HOME'");
        assertTrue(home, home.contains("HOME=/root"));
        home = sh("zone:exec --env HOME=/elsewhere stopper -- busybox sh -c 'echo HOME=$HOME'");
        assertTrue(home, home.contains("HOME=/elsewhere"));
        sh("zone:stop --grace 60 stopper");
        String workload = sh("zone:logs --workload stopper");
        assertTrue(workload, workload.contains("image-zone: got TERM"));
        String console = sh("zone:logs stopper");
        assertTrue(console, console.contains("zonekeeper: zone stopper workload exited 7"));
    }

    @Test
    public void aWorkloadFloodingItsOutputGetsACappedRotatedLogAndTheConsoleNoneOfIt() throws Exception {
        int capKiB = 64;
        Dictionary<String, Object> kvm = new Hashtable<>();
        kvm.put("consoleLogCapKiB", capKiB);
        config.getConfiguration("io.zonekeeper.kvm", "?").update(kvm);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!sh("driver:info kvm").contains(capKiB + " KiB, then workload.log.1")) {
            assertTrue("the kvm driver took the log cap", System.nanoTime() < deadline);
            Thread.sleep(100);
        }
        Path layout = writeLayout(Files.createTempDirectory("zk-it-image-flood"));
        sh("image:import --tag it/flood:1 " + layout);
        sh("zone:create --image it/flood:1 --memory 256 flooder -- exec busybox sh -c"
                + " 'while :; do echo flood-from-the-workload-padded-to-a-longer-line; echo flood-on-stderr >&2; done'");
        sh("zone:start flooder");

        Path log = STATE.resolve("zones/flooder/workload.log");
        Path rotated = log.resolveSibling("workload.log.1");
        FileTime first = awaitRotation(rotated, null);
        awaitRotation(rotated, first);
        long cap = capKiB * 1024L;
        long rotatedSize = Files.size(rotated);
        assertTrue("workload.log.1 holds " + rotatedSize + " bytes, over the cap of " + cap, rotatedSize <= cap);
        try (var files = Files.list(log.getParent())) {
            assertEquals("no generation beyond workload.log.1 is kept", List.of(),
                    files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("workload.log"))
                            .filter(n -> !n.equals("workload.log") && !n.equals("workload.log.1")).toList());
        }
        String workload = sh("zone:logs -n 20 --workload flooder");
        assertTrue(workload, workload.contains("flood-from-the-workload-padded-to-a-longer-line"));
        assertTrue(workload, workload.contains("flood-on-stderr"));
        String console = Files.readString(log.resolveSibling("console.log"), StandardCharsets.ISO_8859_1);
        assertTrue(console, console.contains("zonekeeper: zone flooder ready"));
        assertFalse("the flood reached the console log", console.contains("flood-"));
        System.out.println("workload flood: workload.log " + Files.size(log) + " bytes, workload.log.1 "
                + rotatedSize + " bytes, cap " + cap + ", console.log " + console.length() + " bytes");
        sh("zone:stop --grace 2 flooder");
    }

    /** Waits until {@code rotated} exists and, with {@code after}, was written again since then; its time. */
    private static FileTime awaitRotation(Path rotated, FileTime after) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        FileTime seen = null;
        for (; seen == null || (after != null && seen.compareTo(after) <= 0); Thread.sleep(200)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the workload log was not rotated to " + rotated + "; console:\n"
                        + Files.readString(rotated.resolveSibling("console.log"), StandardCharsets.ISO_8859_1));
            }
            seen = Files.exists(rotated) ? Files.getLastModifiedTime(rotated) : null;
        }
        return seen;
    }

    private static Path writeLayout(Path dir) throws Exception {
        byte[] busybox = Files.readAllBytes(Path.of("/bin/busybox"));
        byte[] lower = tar(t -> {
            folder(t, "bin/", 0755, 0);
            file(t, "bin/busybox", 0755, 0, busybox);
            TarArchiveEntry sh = new TarArchiveEntry("bin/sh", TarArchiveEntry.LF_SYMLINK);
            sh.setLinkName("busybox");
            t.putArchiveEntry(sh);
            t.closeArchiveEntry();
            folder(t, "etc/", 0755, 0);
            file(t, "etc/passwd", 0644, 0, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/data:/bin/sh\n"
                    .getBytes(StandardCharsets.UTF_8));
            file(t, "etc/group", 0644, 0, "root:x:0:\napp:x:1000:\n".getBytes(StandardCharsets.UTF_8));
            file(t, "gone.txt", 0644, 0, "whited out above\n".getBytes(StandardCharsets.UTF_8));
            folder(t, "opq/", 0755, 0);
            file(t, "opq/old.txt", 0644, 0, "hidden by the opaque folder above\n".getBytes(StandardCharsets.UTF_8));
            file(t, "entry.sh", 0755, 0, ENTRY.getBytes(StandardCharsets.UTF_8));
        });
        byte[] upper = tar(t -> {
            file(t, ".wh.gone.txt", 0644, 0, new byte[0]);
            folder(t, "opq/", 0755, 0);
            file(t, "opq/.wh..wh..opq", 0644, 0, new byte[0]);
            file(t, "opq/new.txt", 0644, 0, "new\n".getBytes(StandardCharsets.UTF_8));
            folder(t, "data/", 0755, 1000);
            file(t, "data/owned.txt", 0640, 1000, "app's\n".getBytes(StandardCharsets.UTF_8));
            file(t, "bin/suid", 04755, 0, "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8));
        });
        String lowerDigest = ImageStoreIT.blob(dir, lower);
        String upperDigest = ImageStoreIT.blob(dir, upper);
        byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/entry.sh\"],"
                + "\"Cmd\":[\"replaced\"],\"Env\":[\"PATH=/bin\"],\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\","
                + "\"diff_ids\":[\"" + lowerDigest + "\",\"" + upperDigest + "\"]}}").getBytes(StandardCharsets.UTF_8);
        String configDigest = ImageStoreIT.blob(dir, config);
        StringBuilder layers = new StringBuilder();
        for (var l : List.of(List.of(lowerDigest, String.valueOf(lower.length)),
                List.of(upperDigest, String.valueOf(upper.length)))) {
            layers.append(layers.length() == 0 ? "" : ",").append("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                    + "\"digest\":\"").append(l.get(0)).append("\",\"size\":").append(l.get(1)).append('}');
        }
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
                + "\",\"size\":" + config.length + "},\"layers\":[" + layers + "]}").getBytes(StandardCharsets.UTF_8);
        String manifestDigest = ImageStoreIT.blob(dir, manifest);
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.writeString(dir.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + manifestDigest + "\",\"size\":"
                + manifest.length + "}]}");
        return dir;
    }

    private interface Entries {
        void write(TarArchiveOutputStream t) throws Exception;
    }

    private static byte[] tar(Entries entries) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
            t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            entries.write(t);
        }
        return out.toByteArray();
    }

    private static void folder(TarArchiveOutputStream t, String name, int mode, int owner) throws Exception {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(040000 | mode);
        e.setIds(owner, owner);
        t.putArchiveEntry(e);
        t.closeArchiveEntry();
    }

    private static void file(TarArchiveOutputStream t, String name, int mode, int owner, byte[] data)
            throws Exception {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(0100000 | mode);
        e.setIds(owner, owner);
        e.setSize(data.length);
        t.putArchiveEntry(e);
        t.write(data);
        t.closeArchiveEntry();
    }
}

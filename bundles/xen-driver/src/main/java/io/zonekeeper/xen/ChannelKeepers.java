package io.zonekeeper.xen;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import org.osgi.framework.Bundle;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.xen.vchan.ChannelKeeper;
import io.zonekeeper.xen.vchan.KeeperConfig;

/**
 * Starts, finds and ends the channel keeper of a zone (see {@link ChannelKeeper}): a JVM of its own, in its own
 * session, running this bundle's classes, so that it outlives the driver and the appliance as a Xen domain does.
 * It is found again by its pid and proven by its command line, which names the zone's id.
 */
final class ChannelKeepers {
    static final String CONFIG = "keeper.properties";
    static final String PIDFILE = "keeper.pid";
    static final String LOG = "keeper.log";
    private static final String ZONE_PROPERTY = "-Dzonekeeper.keeper.zone=";

    private final Supplier<String> classpath;
    private final Path xenstore;

    /**
     * @param classpath where the keeper's classes are: this bundle's content as a plain jar (see
     *                  {@link #bundleJar}), or the test JVM's class path
     * @param xenstore  xenstored's socket
     */
    ChannelKeepers(Supplier<String> classpath, Path xenstore) {
        this.classpath = classpath;
        this.xenstore = xenstore;
    }

    /** The folder of a zone's channel files: the keeper's config, pid and log, and the host sockets. */
    static Path dir(Path zoneDir) {
        return zoneDir.resolve("channels");
    }

    /**
     * Starts the keeper of a zone whose domain runs, and waits until it serves (its pidfile and its listening
     * sockets exist). On failure nothing of it is left running.
     */
    long start(Path zoneDir, KeeperConfig config, Duration within) throws IOException {
        Path dir = Files.createDirectories(dir(zoneDir));
        Path cfg = dir.resolve(CONFIG);
        Path pidFile = dir.resolve(PIDFILE);
        config.write(cfg);
        Files.deleteIfExists(pidFile);
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        List<String> cmd = new ArrayList<>(List.of("setsid", java, ZONE_PROPERTY + config.zone(), "-Xmx24m",
                "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
                "-XX:MaxMetaspaceSize=64m", "-cp", classpath.get(), ChannelKeeper.MAIN, cfg.toString(),
                pidFile.toString()));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(LOG).toFile())).redirectErrorStream(true)
                .start();
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            Optional<Long> pid = readPid(pidFile);
            boolean sockets = config.channels().stream().filter(KeeperConfig.Channel::listens)
                    .allMatch(c -> Files.exists(c.socket()));
            if (pid.isPresent() && sockets && isKeeper(pid.get(), config.zone())) {
                return pid.get();
            }
            if (!p.isAlive() && pid.isEmpty()) {
                throw new IOException("the channel keeper exited with code " + p.exitValue() + ": "
                        + tail(dir.resolve(LOG)));
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                pid.ifPresent(x -> ProcessHandle.of(x).ifPresent(ProcessHandle::destroyForcibly));
                throw new IOException("the channel keeper did not serve within " + within.toSeconds() + " s: "
                        + tail(dir.resolve(LOG)));
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting the channel keeper", e);
            }
        }
    }

    /** Whether {@code pid} is a live channel keeper of zone {@code zone}. */
    static boolean isKeeper(long pid, UUID zone) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "cmdline"));
            List<String> args = List.of(new String(raw, StandardCharsets.UTF_8).split("\0"));
            return args.contains(ZONE_PROPERTY + zone) && args.contains(ChannelKeeper.MAIN);
        } catch (IOException e) {
            return false;
        }
    }

    /** Ends the zone's keeper, if {@code pid} is it: SIGTERM (it removes its sockets), then SIGKILL. */
    static void stop(long pid, UUID zone) {
        if (!isKeeper(pid, zone)) {
            return;
        }
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty()) {
            return;
        }
        h.get().destroy();
        try {
            h.get().onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            h.get().destroyForcibly();
        }
    }

    static Optional<Long> readPid(Path pidFile) {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile).trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static String tail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() > 1500 ? "..." + s.substring(s.length() - 1500) : s;
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /**
     * This bundle's content as a plain jar in {@code cacheDir}, for the keeper's class path: its own classes and
     * the jnr-ffi it embeds. Written once per bundle revision; a running keeper keeps the jar of its revision.
     */
    static Path bundleJar(Bundle bundle, Path cacheDir) throws IOException {
        String key = (bundle.getSymbolicName() + "-" + bundle.getVersion() + "-" + bundle.getLastModified())
                .replaceAll("[^A-Za-z0-9._-]", "_");
        Path jar = cacheDir.resolve("keeper-" + key + ".jar");
        if (Files.isRegularFile(jar)) {
            return jar;
        }
        AtomicFiles.write(jar, file -> {
            try (JarOutputStream out = new JarOutputStream(file)) {
                Enumeration<URL> entries = bundle.findEntries("/", "*", true);
                while (entries != null && entries.hasMoreElements()) {
                    URL u = entries.nextElement();
                    String name = u.getPath().replaceFirst("^/+", "");
                    if (name.isEmpty() || name.endsWith("/")) {
                        continue;
                    }
                    out.putNextEntry(new JarEntry(name));
                    try (InputStream in = u.openStream()) {
                        in.transferTo(out);
                    }
                    out.closeEntry();
                }
            }
        });
        return jar;
    }
}

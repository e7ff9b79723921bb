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
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import org.osgi.framework.Bundle;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.hostio.GuestText;
import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedChannel;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ZoneContext;
import io.zonekeeper.xen.vchan.ChannelKeeper;
import io.zonekeeper.xen.vchan.KeeperConfig;
import io.zonekeeper.xen.vchan.KeeperFolder;

/**
 * The driver's side of the one {@link ChannelKeeper} of this host: registers a zone's channels with it (starting it
 * when none runs), unregisters them, and proves a keeper by its command line (this bundle's keeper class serving
 * this driver's keeper folder) and a zone's service by the keeper's own mark. The keeper is a JVM of its own, in its
 * own session, running this bundle's classes, so that it outlives the driver and the appliance as a Xen domain does.
 */
final class ChannelKeepers {
    /** The zone's copy of its keeper config, in its channel folder, from which an adoption registers it again. */
    static final String CONFIG = "keeper.properties";
    /** A per-zone keeper of driver versions before the shared one named its zone so in its command line. */
    private static final String LEGACY_ZONE_PROPERTY = "-Dzonekeeper.keeper.zone=";
    /**
     * A JVM's start in dom0 under emulation took up to tens of seconds in the lab, and over 120 s when the machine
     * under the lab was busy (load average 18 on 2 cores).
     */
    static final Duration READY = Duration.ofSeconds(300);
    private static final Duration GONE = Duration.ofSeconds(10);
    /** Longest Unix socket path (sun_path is 108 bytes with its terminating zero). */
    private static final int MAX_SOCKET_PATH = 107;

    private final Supplier<String> classpath;
    private final Path xenstore;
    private final KeeperFolder folder;
    /** The keeper this driver instance started last, while it may still be on its way up. */
    private Process starting;

    /**
     * @param classpath where the keeper's classes are: this bundle's content as a plain jar (see
     *                  {@link #bundleJar}), or the test JVM's class path
     * @param xenstore  xenstored's socket
     * @param folder    the keeper's folder
     */
    ChannelKeepers(Supplier<String> classpath, Path xenstore, Path folder) {
        this.classpath = classpath;
        this.xenstore = xenstore;
        this.folder = new KeeperFolder(folder);
    }

    KeeperFolder folder() {
        return folder;
    }

    /** The folder of a zone's channel files: its copy of the keeper config and the host sockets. */
    static Path dir(Path zoneDir) {
        return zoneDir.resolve("channels");
    }

    /**
     * The host end of an image zone's guest agent (docs/AGENT-PROTOCOL.md): one more channel, after the spec's, so
     * its vchan is the next place (the zone init counts the channels). Its socket's name is no channel's (a channel
     * name starts with a letter or digit). The keeper holds the socket, so an exec outlives the appliance as a Xen
     * domain does.
     */
    static KeeperConfig.Channel agent(ZoneContext zone) throws DriverException {
        Path socket = dir(zone.directory()).resolve("_agent.sock");
        int len = socket.toString().getBytes(StandardCharsets.UTF_8).length;
        if (len > MAX_SOCKET_PATH) {
            throw new DriverException("zone " + zone.name() + " cannot run on the xen driver: its agent socket " + socket
                    + " would be " + len + " bytes, but a Unix socket path may have at most " + MAX_SOCKET_PATH
                    + "; use a shorter state directory");
        }
        return new KeeperConfig.Channel("agent", socket, true);
    }

    /** The host ends of the zone's channels, in spec order: the broker's rendezvous, else a socket of its own. */
    static List<KeeperConfig.Channel> plan(ZoneContext zone, PreparedResources res) throws DriverException {
        List<KeeperConfig.Channel> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < zone.spec().channels().size(); i++) {
            ChannelSpec c = zone.spec().channels().get(i);
            PreparedChannel pc = res.channel(c.name());
            KeeperConfig.Channel k = pc != null ? new KeeperConfig.Channel(c.name(), Path.of(pc.socket()), pc.listens())
                    : new KeeperConfig.Channel(c.name(), dir(zone.directory()).resolve(c.name() + ".sock"), true);
            int len = k.socket().toString().getBytes(StandardCharsets.UTF_8).length;
            if (len > MAX_SOCKET_PATH) {
                problems.add("channels[" + i + "]: its socket " + k.socket() + " would be " + len + " bytes, but a Unix"
                        + " socket path may have at most " + MAX_SOCKET_PATH + "; use a shorter state directory");
            }
            out.add(k);
        }
        if (!problems.isEmpty()) {
            throw new DriverException("zone " + zone.name() + " cannot run on the xen driver: "
                    + String.join("; ", problems));
        }
        return out;
    }

    /**
     * Has the keeper serve the channels of the zone's domain {@code domid}, starting the keeper when none runs, and
     * waits until it does (its listening sockets are bound then). Returns the keeper's pid.
     */
    long serve(Path zoneDir, UUID zone, int domid, List<KeeperConfig.Channel> channels, Duration within)
            throws IOException {
        KeeperConfig config = new KeeperConfig(zone, domid, KeeperConfig.xsBase(domid), xenstore, channels);
        KeeperFolder.save(dir(zoneDir).resolve(CONFIG), config);
        folder.register(config);
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            Optional<Long> running = folder.pid().filter(this::isKeeper);
            Optional<KeeperFolder.Serving> s = folder.serving(zone);
            if (running.isPresent() && s.isPresent() && s.get().pid() == running.get() && s.get().domid() == domid) {
                return running.get();
            }
            if (running.isEmpty()) {
                Optional<Integer> failed = startKeeperUnlessStarting();
                if (failed.isPresent()) {
                    folder.unregister(zone);
                    throw new IOException("the channel keeper exited with code " + failed.get() + ": "
                            + tail(folder.log()));
                }
            }
            if (System.nanoTime() > deadline) {
                folder.unregister(zone);
                throw new IOException("the channel keeper did not serve zone " + zone + " within "
                        + within.toSeconds() + " s: " + tail(folder.log()));
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                folder.unregister(zone);
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the channel keeper", e);
            }
        }
    }

    /**
     * Starts a keeper, unless the one this instance started last is still on its way up; the exit code of that one
     * when it failed (a keeper that found another one running ends with 0).
     */
    private synchronized Optional<Integer> startKeeperUnlessStarting() throws IOException {
        if (starting != null && starting.isAlive()) {
            return Optional.empty();
        }
        if (starting != null && starting.exitValue() != 0) {
            Process failed = starting;
            starting = null;
            return Optional.of(failed.exitValue());
        }
        Files.createDirectories(folder.dir());
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        List<String> cmd = List.of("setsid", java, "-Xmx24m", "-Xss512k", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-XX:MaxMetaspaceSize=64m", "-cp", classpath.get(),
                ChannelKeeper.MAIN, folder.dir().toString());
        starting = new ProcessBuilder(cmd).directory(folder.dir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(folder.log().toFile())).redirectErrorStream(true)
                .start();
        return Optional.empty();
    }

    /** Whether {@code pid} is a live channel keeper of this driver's folder. */
    boolean isKeeper(long pid) {
        List<String> args = commandLine(pid);
        int main = args.indexOf(ChannelKeeper.MAIN);
        return main >= 0 && main + 1 < args.size() && args.get(main + 1).equals(folder.dir().toString());
    }

    /** Whether {@code pid} is the keeper, and serves the zone, by its own mark. */
    boolean serves(long pid, UUID zone) {
        return isKeeper(pid) && folder.serving(zone).map(s -> s.pid() == pid).orElse(false);
    }

    /** Whether {@code pid} is a per-zone keeper of an earlier driver version, serving {@code zone}. */
    static boolean isLegacyKeeper(long pid, UUID zone) {
        List<String> args = commandLine(pid);
        return args.contains(LEGACY_ZONE_PROPERTY + zone) && args.contains(ChannelKeeper.MAIN);
    }

    private static List<String> commandLine(long pid) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "cmdline"));
            return List.of(new String(raw, StandardCharsets.UTF_8).split("\0"));
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * An adopted zone's channels: still served when the recorded pid is the keeper and serves the zone (or is a
     * per-zone keeper of an earlier driver version); otherwise registered again from the zone's copy of its config,
     * for the domain it has now. A keeper that cannot serve leaves a note, not a refusal, since the domain is fine.
     */
    void revive(ZoneContext zone, int domid, Map<String, String> record) {
        String pid = record.get(XenDriver.R_KEEPER);
        try {
            if (pid != null && (serves(Long.parseLong(pid), zone.id())
                    && folder.serving(zone.id()).map(s -> s.domid() == domid).orElse(false)
                    || isLegacyKeeper(Long.parseLong(pid), zone.id()))) {
                return;
            }
        } catch (NumberFormatException ignored) {
            // registered again below
        }
        try {
            KeeperConfig old = KeeperConfig.read(dir(zone.directory()).resolve(CONFIG));
            record.put(XenDriver.R_KEEPER, String.valueOf(serve(zone.directory(), zone.id(), domid, old.channels(),
                    READY)));
            record.remove(XenDriver.R_KEEPER_NOTE);
        } catch (IOException | RuntimeException e) {
            record.remove(XenDriver.R_KEEPER);
            record.put(XenDriver.R_KEEPER_NOTE, "not running: " + e.getMessage());
        }
    }

    /**
     * Ends the zone's channels (the keeper also ends them by itself once the domain is gone) and waits a little for
     * the keeper to close their sockets. A per-zone keeper of an earlier driver version that the record names is
     * ended by SIGTERM (it removes its sockets), then SIGKILL.
     */
    void end(ZoneContext zone) {
        try {
            folder.unregister(zone.id());
        } catch (IOException ignored) {
            // the keeper retires the entry itself once the domain is gone
        }
        Optional<Long> recorded = zone.runtime().flatMap(r -> r.get(XenDriver.R_KEEPER)).flatMap(p -> {
            try {
                return Optional.of(Long.parseLong(p));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        });
        if (recorded.isPresent() && isLegacyKeeper(recorded.get(), zone.id())) {
            ProcessHandle.of(recorded.get()).ifPresent(h -> {
                h.destroy();
                try {
                    h.onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                    h.destroyForcibly();
                }
            });
            return;
        }
        long deadline = System.nanoTime() + GONE.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<KeeperFolder.Serving> s = folder.serving(zone.id());
            if (s.isEmpty() || !isKeeper(s.get().pid())) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The end of the keeper's log for an error message: bounded and escaped, as it may quote what a guest sent. */
    private static String tail(Path log) {
        try {
            FileTail.Tail t = FileTail.read(log, 1500);
            return (t.cut() ? "..." : "") + GuestText.escape(t.text());
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

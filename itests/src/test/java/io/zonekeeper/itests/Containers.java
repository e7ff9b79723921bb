package io.zonekeeper.itests;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.ops4j.pax.exam.Option;

import io.zonekeeper.api.ZoneManager;

/** The bundle sets of the in-container tests: the same third-party bundles the appliance runs, and ours. */
final class Containers {
    private Containers() {
    }

    static String version(String key) {
        String v = System.getProperty("zk.version." + key);
        if (v == null) {
            throw new IllegalStateException("system property zk.version." + key + " is not set; run through Maven");
        }
        return v;
    }

    /** A bundle of this reactor, from its module's target folder. */
    static Option ours(String module) {
        Path root = Path.of(System.getProperty("zk.repo.root", ".."));
        String jar = module + "-" + System.getProperty("zk.project.version") + ".jar";
        Path p = Files.exists(root.resolve("bundles").resolve(module)) ? root.resolve("bundles").resolve(module)
                : root.resolve(module);
        return bundle(p.resolve("target").resolve(jar).toAbsolutePath().toUri().toString());
    }

    /** The installed bundle named {@code symbolicName}; fails the test when there is none. */
    static org.osgi.framework.Bundle installed(org.osgi.framework.BundleContext context, String symbolicName) {
        for (org.osgi.framework.Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError(symbolicName + " bundle not installed");
    }

    /** Felix SCR, ConfigAdmin, Gogo, JSON, our API and core, with a fresh state directory. */
    static Option core(Path stateDir) {
        // The driver:upgrade tests take unsigned builds of kvm-driver-next; CodePolicyIT and the launcher's tests
        // are where signed code is required.
        return composite(frameworkProperty("zonekeeper.code.signatures").value("off"), coreWithSignedCode(stateDir));
    }

    /** As {@link #core}, with the code policy as the properties given elsewhere say (required by default). */
    static Option coreWithSignedCode(Path stateDir) {
        return composite(
                cleanCaches(true),
                systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN"),
                frameworkProperty("zonekeeper.state").value(stateDir.toString()),
                frameworkProperty("zonekeeper.etc").value(stateDir.resolve("etc").toString()),
                mavenBundle("org.osgi", "org.osgi.util.function", "1.2.0"),
                mavenBundle("org.osgi", "org.osgi.util.promise", "1.3.0"),
                mavenBundle("org.osgi", "org.osgi.service.component", "1.5.1"),
                mavenBundle("org.apache.felix", "org.apache.felix.scr", version("scr")),
                mavenBundle("org.apache.felix", "org.apache.felix.configadmin", version("configadmin")),
                mavenBundle("org.apache.felix", "org.apache.felix.gogo.runtime", version("gogo.runtime")),
                mavenBundle("org.apache.felix", "org.apache.felix.gogo.command", version("gogo.command")),
                mavenBundle("org.glassfish", "jakarta.json", version("jakarta.json")),
                ours("zone-api"),
                ours("zone-core"),
                junitBundles());
    }

    /** The KVM driver and the libraries it needs, as the kvm feature installs them. */
    static Option kvm() {
        return composite(
                mavenBundle("org.tukaani", "xz", version("xz")),
                mavenBundle("commons-io", "commons-io", version("commons.io")),
                mavenBundle("org.apache.commons", "commons-compress", version("commons.compress")),
                ours("kvm-driver"));
    }

    /** Networks and disks, as the zonekeeper-network feature installs them. */
    static Option networkAndDisk() {
        return composite(ours("zone-network"), ours("zone-disk"));
    }

    /** Apache Felix EventAdmin and zone-observe, as the zonekeeper-observe feature installs them. */
    static Option observe() {
        return composite(mavenBundle("org.apache.felix", "org.apache.felix.eventadmin", version("eventadmin")),
                ours("zone-observe"));
    }

    /** The image store and the libraries it needs, as the zonekeeper-images feature installs them. */
    static Option images() {
        return composite(
                mavenBundle("org.tukaani", "xz", version("xz")),
                mavenBundle("commons-io", "commons-io", version("commons.io")),
                mavenBundle("org.apache.commons", "commons-lang3", version("commons.lang3")),
                mavenBundle("org.apache.commons", "commons-compress", version("commons.compress")),
                ours("zone-images"));
    }

    /** The image store beside {@link #kvm()}, which brings the libraries both need already. */
    static Option imagesBesideKvm() {
        return composite(mavenBundle("org.apache.commons", "commons-lang3", version("commons.lang3")),
                ours("zone-images"));
    }

    /** The driver conformance kit (its scenarios and the driver:conformance command). */
    static Option conformanceKit() {
        return ours("zone-conformance");
    }

    /** A test build of a bundle of this reactor (itests/NAME). */
    static Path testBuild(String module) {
        Path root = Path.of(System.getProperty("zk.repo.root", ".."));
        return root.resolve("itests").resolve(module).resolve("target")
                .resolve(module + "-" + System.getProperty("zk.project.version") + ".jar").toAbsolutePath();
    }

    /**
     * A fresh state directory for one test class. The native container loads the test class twice (once outside,
     * once in the probe bundle) in one JVM, so the choice is kept in a system property that both see.
     */
    static synchronized Path newStateDir(String name) {
        String key = "zk.it.state." + name;
        String existing = System.getProperty(key);
        if (existing != null) {
            return Path.of(existing);
        }
        try {
            Path dir = Files.createTempDirectory("zk-it-" + name);
            System.setProperty(key, dir.toString());
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Types a line on the zone's serial console (the shell the zone init leaves there, or the stdin of its
     * {@code zk.run} command) and waits for {@code marker} to appear on the console after what was there before;
     * returns the marker's first group. The connection stays open until then, so that QEMU hands the guest every
     * byte, and what QEMU sends on it is read and dropped: the serial writes a byte at a time, and a client that does
     * not read fills its socket after a few hundred bytes, which stalls the guest's console (and its log).
     */
    static String type(ZoneManager zones, String zone, String line, Pattern marker, int seconds) throws Exception {
        Path log = zones.consoleLog(zone);
        int before = consoleText(log).length();
        String socket = zones.get(zone).orElseThrow().runtime().get("console");
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.configureBlocking(false);
            ByteBuffer drain = ByteBuffer.allocate(1 << 16);
            long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
            while (System.nanoTime() < deadline) {
                while (ch.read(drain.clear()) > 0) {
                    // the log has it all
                }
                String text = consoleText(log);
                Matcher m = marker.matcher(text.substring(Math.min(before, text.length())));
                if (m.find()) {
                    return m.group(1);
                }
                Thread.sleep(100);
            }
        }
        throw new AssertionError("no " + marker + " on the console of " + zone + " within " + seconds + " s after "
                + "typing " + line + ":\n" + consoleText(log));
    }

    /** What the zone's console log holds now, or "" before it has one. */
    static String console(ZoneManager zones, String zone) throws Exception {
        return consoleText(zones.consoleLog(zone));
    }

    private static String consoleText(Path log) throws IOException {
        return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8) : "";
    }

    /** Destroys every zone through the shell, then ends by PID any QEMU a failed destroy left running. */
    static void destroyAllZones(ZoneManager zones, CommandProcessor shell) {
        for (io.zonekeeper.api.ZoneInfo z : zones.list()) {
            String pid = z.runtime().get("pid");
            run(shell, "zone:destroy " + z.name());
            if (pid != null) {
                ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
    }

    /** Runs a command line through the real Gogo CommandProcessor, as the shell and the control socket do. */
    static Result run(CommandProcessor processor, String commandLine) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        InputStream in = new java.io.ByteArrayInputStream(new byte[0]);
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
                CommandSession session = processor.createSession(in, o, e)) {
            Object value = session.execute(commandLine);
            String text = out.toString(StandardCharsets.UTF_8) + (value == null ? "" : session.format(value,
                    org.apache.felix.service.command.Converter.INSPECT).toString());
            return new Result(text, null);
        } catch (Exception ex) {
            return new Result(out.toString(StandardCharsets.UTF_8), ex);
        }
    }

    record Result(String output, Exception failure) {
        String ok() {
            if (failure != null) {
                throw new AssertionError("command failed: " + failure.getMessage(), failure);
            }
            return output;
        }

        String error() {
            if (failure == null) {
                throw new AssertionError("command should have failed but printed: " + output);
            }
            return failure.getMessage();
        }
    }

    /** The output (and error output) of a command on the test's host, whatever its exit status. */
    static String host(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    /**
     * Skips a test unless its JVM runs in a network namespace of its own (src/test/netns/bin/java sets ZK_NETNS=own),
     * and fails it when that namespace has any of the machine's interfaces: a test that makes bridges, taps or NAT
     * rules must never touch them.
     */
    static void assumeOwnNetworkNamespace() throws IOException, InterruptedException {
        org.junit.Assume.assumeTrue("the JVM runs in a network namespace of its own (ZK_NETNS="
                + System.getenv("ZK_NETNS") + "); see src/test/netns/bin/java", "own".equals(System.getenv("ZK_NETNS")));
        String links = host("ip", "-o", "link", "show");
        org.junit.Assert.assertFalse("the namespace has none of the machine's interfaces: " + links,
                links.lines().anyMatch(l -> !l.contains(" lo:") && !l.contains("zk")));
    }

    /**
     * Whether the process runs. The kvm driver starts QEMU detached, so an ended QEMU waits as a zombie until the
     * host's init reaps it (here every second or two), and the JDK calls a zombie alive.
     */
    static boolean running(long pid) {
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return false;
        }
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
            int end = stat.lastIndexOf(')');
            char state = end > 0 && end + 2 < stat.length() ? stat.charAt(end + 2) : '?';
            return state != 'Z' && state != 'X';
        } catch (java.io.IOException e) {
            return false; // gone between the two looks
        }
    }
}

package io.zonekeeper.launcher;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.CodePolicy;

/**
 * Stands between {@code deploy/} and FileInstall: FileInstall watches only the admitted folder under the state
 * directory, and a jar dropped into {@code deploy/} reaches it only once a private copy of it has passed the code
 * policy (signed by a key of the trust store, unless the operator turned that off). The copy that was checked is
 * the one installed, so a jar changed after the check cannot slip in. A refused jar is reported once per version
 * of the file and nothing of it is installed; a refused new version of an admitted jar leaves the old one running.
 * A jar removed from {@code deploy/} is removed from the admitted folder, and FileInstall uninstalls it.
 */
final class DeployGate implements AutoCloseable {
    static final long POLL_MS = 2000;

    /** What a version of a dropped file looks like, to notice that it changed. */
    private record Stamp(long size, FileTime modified) {
        static Stamp of(Path p) throws IOException {
            return new Stamp(Files.size(p), Files.getLastModifiedTime(p));
        }
    }

    private final Path deploy;
    private final Path admitted;
    private final PolicySource policy;
    private final PrintStream err;
    private final Map<String, Stamp> admittedStamps = new HashMap<>();
    private final Map<String, Stamp> refusedStamps = new HashMap<>();
    private Thread poller;
    private volatile boolean closed;

    /** The code policy as the settings say now; read at each check, so that a new trust store takes effect. */
    @FunctionalInterface
    interface PolicySource {
        CodePolicy get() throws IOException;
    }

    DeployGate(Path deploy, Path admitted, PolicySource policy, PrintStream err) {
        this.deploy = deploy;
        this.admitted = admitted;
        this.policy = policy;
        this.err = err;
    }

    /** Empties the admitted folder (every jar is checked again at each start), then admits what deploy/ holds. */
    void open() throws IOException {
        if (Files.isDirectory(admitted)) {
            try (Stream<Path> old = Files.list(admitted)) {
                for (Path p : old.toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        Files.createDirectories(admitted);
        sync();
    }

    /** Polls deploy/ until {@link #close}. */
    void watch() {
        poller = new Thread(() -> {
            while (!closed) {
                try {
                    Thread.sleep(POLL_MS);
                    sync();
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    err.println("zonekeeper: cannot check " + deploy + ": " + e.getMessage());
                }
            }
        }, "zonekeeper-deploy-gate");
        poller.setDaemon(true);
        poller.start();
    }

    /** One pass: admits new and changed jars that pass the policy, withdraws those gone from deploy/. */
    synchronized void sync() throws IOException {
        Set<String> present = new HashSet<>();
        if (Files.isDirectory(deploy)) {
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(deploy, "*.jar")) {
                for (Path jar : jars) {
                    if (Files.isRegularFile(jar)) {
                        present.add(jar.getFileName().toString());
                        consider(jar);
                    }
                }
            }
        }
        for (String name : Set.copyOf(admittedStamps.keySet())) {
            if (!present.contains(name)) {
                AtomicFiles.delete(admitted.resolve(name));
                admittedStamps.remove(name);
            }
        }
        refusedStamps.keySet().retainAll(present);
    }

    private void consider(Path jar) throws IOException {
        String name = jar.getFileName().toString();
        Stamp stamp = Stamp.of(jar);
        if (stamp.equals(admittedStamps.get(name)) || stamp.equals(refusedStamps.get(name))) {
            return;
        }
        Path copy = admitted.resolve("." + name + ".checking");
        try {
            Files.copy(jar, copy, StandardCopyOption.REPLACE_EXISTING);
            CodePolicy current;
            try {
                current = policy.get();
            } catch (IOException e) {
                refuse(name, stamp, jar + " is refused: the code policy cannot be applied: " + e.getMessage());
                return;
            }
            try {
                current.check(copy);
            } catch (CodePolicy.Refused e) {
                refuse(name, stamp, e.getMessage().replace(copy.toString(), jar.toString()));
                return;
            }
            AtomicFiles.rename(copy, admitted.resolve(name));
            admittedStamps.put(name, stamp);
            refusedStamps.remove(name);
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    private void refuse(String name, Stamp stamp, String why) {
        refusedStamps.put(name, stamp);
        err.println("zonekeeper: " + why + "; nothing of it is installed"
                + (admittedStamps.containsKey(name) ? " (the version admitted before keeps running)" : ""));
    }

    @Override
    public void close() {
        closed = true;
        if (poller != null) {
            poller.interrupt();
        }
    }
}

package io.zonekeeper.xen.vchan;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;

/**
 * dom0's side of the channels of every Xen zone on this host: one small process (started by the driver from this
 * bundle's classes, in its own session, as QEMU holds a KVM zone's channel sockets), so that channels outlive a
 * driver upgrade and an appliance restart, and a host with many zones pays for one JVM, not one per zone.
 *
 * <p>It serves the zones registered in its {@link KeeperFolder} ({@link ZoneChannels} for each), notices a zone
 * added, changed or removed there within {@value #SCAN_MS} ms, ends a zone's channels once that zone's domain is gone
 * (and removes its entry), and ends itself when it serves no zone any more. Only one runs per folder: it holds the
 * folder's lock for its whole life.
 *
 * <p>Usage: {@code ChannelKeeper FOLDER}.
 */
public final class ChannelKeeper {
    /** The main class's name, which the driver also looks for in a keeper's command line. */
    public static final String MAIN = ChannelKeeper.class.getName();
    static final int SCAN_MS = 500;
    private static final Duration DOMAIN_CHECK = Duration.ofSeconds(2);

    private final KeeperFolder folder;
    private final VchanClient.Natives natives;
    private final long pid = ProcessHandle.current().pid();
    private final Map<UUID, ZoneChannels> served = new HashMap<>();
    private XenstoreClient xs;
    private int unreachable;

    ChannelKeeper(KeeperFolder folder, VchanClient.Natives natives) {
        this.folder = folder;
        this.natives = natives;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: " + MAIN + " FOLDER");
            System.exit(2);
        }
        KeeperFolder folder = new KeeperFolder(Path.of(args[0]));
        FileChannel lockFile = FileChannel.open(folder.lockFile(), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock lock = lockFile.tryLock();
        if (lock == null) {
            log("another keeper serves " + folder.dir() + "; ending");
            System.exit(0);
        }
        ChannelKeeper k = new ChannelKeeper(folder, VchanClient.Natives.load());
        Runtime.getRuntime().addShutdownHook(new Thread(k::closeAll, "close-channels"));
        folder.writePid(k.pid);
        log("keeper " + k.pid + " serves the zones registered in " + folder.zones());
        k.run();
        log("no zone left to serve; ending");
        System.exit(0);
    }

    static void log(String s) {
        System.out.println(Instant.now() + " " + s);
    }

    /** Serves until no zone is registered or served any more. */
    void run() throws InterruptedException {
        long nextCheck = 0;
        while (true) {
            boolean any = scan();
            if (System.nanoTime() >= nextCheck) {
                endZonesWhoseDomainIsGone();
                nextCheck = System.nanoTime() + DOMAIN_CHECK.toNanos();
            }
            if (!any && served.isEmpty()) {
                return;
            }
            Thread.sleep(SCAN_MS);
        }
    }

    /** Makes what is served match the folder's entries; whether any entry is there. */
    synchronized boolean scan() {
        List<KeeperConfig> wanted;
        try {
            wanted = folder.registered();
        } catch (IOException e) {
            log("cannot list " + folder.zones() + ": " + e.getMessage());
            return true;
        }
        Map<UUID, KeeperConfig> byZone = new HashMap<>();
        wanted.forEach(c -> byZone.put(c.zone(), c));
        for (UUID z : List.copyOf(served.keySet())) {
            KeeperConfig now = byZone.get(z);
            if (now == null || !now.equals(served.get(z).config())) {
                end(z, now == null ? "unregistered" : "registered again");
            }
        }
        for (KeeperConfig c : wanted) {
            if (!served.containsKey(c.zone())) {
                ZoneChannels zc = new ZoneChannels(c, natives);
                try {
                    zc.open();
                    folder.markServing(c.zone(), pid, c.domid());
                    served.put(c.zone(), zc);
                    log("serving " + c.channels().size() + " channel(s) of zone " + c.zone() + ", domain "
                            + c.domid());
                } catch (IOException e) {
                    zc.close();
                    log("cannot serve zone " + c.zone() + ": " + e);
                }
            }
        }
        return !wanted.isEmpty();
    }

    private void end(UUID zone, String why) {
        ZoneChannels zc = served.remove(zone);
        zc.close();
        try {
            folder.unmarkServing(zone);
        } catch (IOException e) {
            log("cannot remove the serving mark of zone " + zone + ": " + e.getMessage());
        }
        log("ended the channels of zone " + zone + ", domain " + zc.config().domid() + ": " + why);
    }

    /**
     * Ends the channels of each zone whose domain no longer exists (or is another domain now), and removes its entry.
     * While xenstored does not answer, every zone is kept.
     */
    synchronized void endZonesWhoseDomainIsGone() {
        for (ZoneChannels zc : List.copyOf(served.values())) {
            KeeperConfig c = zc.config();
            Optional<String> vm;
            try {
                if (xs == null || !xs.isOpen()) {
                    xs = XenstoreClient.connect(c.xenstore(), Duration.ofSeconds(5), null);
                }
                vm = xs.read("/local/domain/" + c.domid() + "/vm");
                unreachable = 0;
            } catch (XenstoreException e) {
                if (xs != null) {
                    xs.close();
                    xs = null;
                }
                if (++unreachable == 30) {
                    log("xenstored does not answer (" + e.getMessage() + "); every zone is kept");
                }
                return;
            }
            if (vm.isEmpty() || !vm.get().equals("/vm/" + c.zone())) {
                end(c.zone(), "its domain is gone");
                try {
                    folder.retire(c);
                } catch (IOException e) {
                    log("cannot remove the entry of zone " + c.zone() + ": " + e.getMessage());
                }
            }
        }
    }

    /** At exit: the sockets mean nothing once the keeper is gone. */
    synchronized void closeAll() {
        for (UUID z : List.copyOf(served.keySet())) {
            end(z, "the keeper ends");
        }
    }
}

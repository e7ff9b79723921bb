package io.zonekeeper.xen;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;

import io.zonekeeper.api.ZoneState;
import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;
import io.zonekeeper.xen.xl.Xl;

/**
 * One thread per driver instance that notices when a watched domain ends, crashes or is paused behind the
 * driver's back. xenstored's {@code @releaseDomain} watch wakes it when any domain dies; it then asks
 * {@code xl list} once for every watched zone. Without xenstore it polls instead. Stopping it leaves every domain
 * running.
 */
final class DomainWatcher {
    /** What the watcher found out about a zone that the driver did not do itself. */
    interface Listener {
        void ended(ZoneDomain d, ZoneState state, String reason);

        void changed(ZoneDomain d, ZoneState state, String reason);
    }

    private static final Duration POLL_WITH_XENSTORE = Duration.ofSeconds(15);
    private static final Duration POLL_WITHOUT = Duration.ofSeconds(3);
    private static final Duration RECONNECT = Duration.ofSeconds(30);

    private final Xl xl;
    private final Path xenstoreSocket;
    private final Collection<ZoneDomain> domains;
    private final Listener listener;
    private final Object signal = new Object();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean woken;
    private volatile XenstoreClient xenstore;
    private long lastConnectTry;

    DomainWatcher(Xl xl, Path xenstoreSocket, Map<?, ZoneDomain> domains, Listener listener) {
        this.xl = xl;
        this.xenstoreSocket = xenstoreSocket;
        this.domains = domains.values();
        this.listener = listener;
        this.thread = new Thread(this::loop, "xen-driver domain watcher");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Look now, e.g. right after the driver started or adopted a domain. */
    void wake() {
        synchronized (signal) {
            woken = true;
            signal.notifyAll();
        }
    }

    void stop() {
        running = false;
        wake();
        XenstoreClient c = xenstore;
        if (c != null) {
            c.close();
        }
    }

    private void loop() {
        while (running) {
            connectXenstore();
            Duration wait = xenstore != null && xenstore.isOpen() ? POLL_WITH_XENSTORE : POLL_WITHOUT;
            synchronized (signal) {
                if (!woken) {
                    try {
                        signal.wait(wait.toMillis());
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                woken = false;
            }
            if (running && !domains.isEmpty()) {
                check();
            }
        }
    }

    private void connectXenstore() {
        XenstoreClient c = xenstore;
        if ((c != null && c.isOpen()) || System.currentTimeMillis() - lastConnectTry < RECONNECT.toMillis()) {
            return;
        }
        lastConnectTry = System.currentTimeMillis();
        try {
            XenstoreClient n = XenstoreClient.connect(xenstoreSocket, Duration.ofSeconds(5), e -> wake());
            n.watch("@releaseDomain", "zonekeeper-watcher");
            xenstore = n;
        } catch (XenstoreException e) {
            xenstore = null; // poll instead; try again later
        }
    }

    /** One look at every watched domain. */
    void check() {
        Map<Integer, String> flags;
        try {
            flags = xl.flags();
        } catch (IOException e) {
            return; // xl is unwell; nothing is known, so nothing is reported
        }
        for (ZoneDomain d : domains) {
            if (d.asked()) {
                continue; // the driver ends it itself and reports nothing
            }
            String f = flags.get(d.domid);
            if (f == null) {
                listener.ended(d, ZoneState.STOPPED, "domain " + d.domid + " ended: the guest powered off");
            } else if (f.charAt(4) == 'c') {
                listener.ended(d, ZoneState.CRASHED, "domain " + d.domid + " crashed");
            } else if (!d.expectFlags()) {
                boolean paused = f.charAt(2) == 'p';
                if (paused && d.state() == ZoneState.RUNNING) {
                    d.state(ZoneState.PAUSED);
                    listener.changed(d, ZoneState.PAUSED, "domain " + d.domid + " was paused outside the driver");
                } else if (!paused && d.state() == ZoneState.PAUSED) {
                    d.state(ZoneState.RUNNING);
                    listener.changed(d, ZoneState.RUNNING, "domain " + d.domid + " was resumed outside the driver");
                }
            }
        }
    }
}

package io.zonekeeper.xen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import io.zonekeeper.spi.DriverException;
import io.zonekeeper.xen.xenstore.XenstoreClient;
import io.zonekeeper.xen.xenstore.XenstoreException;
import io.zonekeeper.xen.xl.Domain;
import io.zonekeeper.xen.xl.Xl;

/**
 * The zones' domains as xl and xenstored tell of them: finding a zone's domain (by its uuid, for a start, and
 * without {@code xl list -l} for an adoption), its tag, and ending one for sure. xenstore is asked first where it can
 * answer, since it answers without a fork; xl decides where it cannot.
 */
final class Domains {
    /** The zone tag, relative to the domain's xenstore home: it holds the zone's id, and only dom0 may write it. */
    static final String TAG = XenDriver.TAG;
    private static final Duration GONE_AFTER_DESTROY = Duration.ofSeconds(30);

    private final Xl xl;
    private final Path xenstore;

    Domains(Xl xl, Path xenstore) {
        this.xl = xl;
        this.xenstore = xenstore;
    }

    Optional<Domain> find(UUID id) throws DriverException {
        try {
            return xl.domainOf(id);
        } catch (IOException e) {
            throw new DriverException("cannot list Xen domains: " + e.getMessage()
                    + " (the xen driver runs in dom0, with the Xen toolstack started)", e);
        }
    }

    /**
     * Writes the zone tag from dom0 and makes dom0 its owner, the guest a reader. Returns null when done, or why
     * not: the tag is a second proof next to the uuid, so its absence is noted rather than fatal.
     */
    String writeTag(int domid, UUID id) {
        String path = "/local/domain/" + domid + "/" + TAG;
        try (XenstoreClient xs = XenstoreClient.connect(xenstore, Duration.ofSeconds(5), null)) {
            xs.write(path, id.toString());
            xs.setPerms(path, "n0", "r" + domid);
            return null;
        } catch (XenstoreException e) {
            return "not written: " + e.getMessage();
        }
    }

    /** The tag of a domain, empty when there is none; throws when xenstore cannot be asked. */
    Optional<String> readTag(int domid) throws XenstoreException {
        try (XenstoreClient xs = XenstoreClient.connect(xenstore, Duration.ofSeconds(5), null)) {
            return xs.read("/local/domain/" + domid + "/" + TAG);
        }
    }

    /**
     * The zone's domain, found without {@code xl list -l} where xenstored answers: a domain's {@code vm} node, which
     * libxl writes from the domain's uuid when it creates it and only dom0 may change, must name
     * {@code /vm/<zone id>}; the recorded domid is looked at first, then every domain. Its state flags come from one
     * plain {@code xl list}, which prints no configs. This is what an upgrade does for every running zone, inside the
     * window in which the driver is away. Without xenstored, or when xenstore finds no such domain, {@code xl list
     * -l} decides, as before.
     */
    Optional<Domain> forAdoption(UUID id, Optional<String> recorded) throws IOException {
        Optional<Domain> viaXenstore;
        try (XenstoreClient xs = XenstoreClient.connect(xenstore, Duration.ofSeconds(5), null)) {
            viaXenstore = inXenstore(xs, id, recorded);
        } catch (XenstoreException e) {
            return xl.domainOf(id);
        }
        if (viaXenstore.isPresent()) {
            String flags = xl.flags().get(viaXenstore.get().domid());
            if (flags != null) {
                return Optional.of(viaXenstore.get().withFlags(flags));
            }
        }
        return xl.domainOf(id); // not in xenstore, or not in xl list (on its way out): the slow, sure way
    }

    /** The domain whose {@code vm} node names the zone, by xenstore alone; its flags are left unknown. */
    static Optional<Domain> inXenstore(XenstoreClient xs, UUID id, Optional<String> recorded)
            throws XenstoreException {
        Optional<String> first = recorded.filter(d -> d.matches("\\d+"));
        if (first.isPresent()) {
            Optional<Domain> d = ifItIsTheZones(xs, first.get(), id);
            if (d.isPresent()) {
                return d;
            }
        }
        for (String domid : xs.directory("/local/domain")) {
            if (domid.matches("\\d+") && !first.filter(domid::equals).isPresent()) {
                Optional<Domain> d = ifItIsTheZones(xs, domid, id);
                if (d.isPresent()) {
                    return d;
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<Domain> ifItIsTheZones(XenstoreClient xs, String domid, UUID id)
            throws XenstoreException {
        String home = "/local/domain/" + domid;
        if (xs.read(home + "/vm").filter(("/vm/" + id)::equals).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Domain(Integer.parseInt(domid), xs.read(home + "/name").orElse(""), Optional.of(id),
                null, null));
    }

    void destroy(String zone, int domid) throws DriverException {
        try {
            xl.destroy(domid);
        } catch (IOException e) {
            if (exists(domid)) {
                throw new DriverException("cannot destroy domain " + domid + " of zone " + zone + ": "
                        + e.getMessage(), e);
            }
        }
        if (!awaitGone(domid, GONE_AFTER_DESTROY)) {
            throw new DriverException("domain " + domid + " of zone " + zone + " still exists "
                    + GONE_AFTER_DESTROY.toSeconds() + " s after xl destroy; check xl list on the host");
        }
    }

    /**
     * Waits until the domain is gone. xenstore answers quickly and without a fork; xl is asked when xenstore
     * cannot be. A domain left in the shutdown state (no xl daemon to carry out on_poweroff) counts as gone once
     * destroyed, so it is destroyed here.
     */
    boolean awaitGone(int domid, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        do {
            if (!exists(domid)) {
                return true;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        } while (System.nanoTime() < deadline);
        return !exists(domid);
    }

    boolean exists(int domid) {
        try (XenstoreClient xs = XenstoreClient.connect(xenstore, Duration.ofSeconds(5), null)) {
            return xs.exists("/local/domain/" + domid);
        } catch (XenstoreException e) {
            try {
                String f = xl.flags().get(domid);
                return f != null;
            } catch (IOException x) {
                return true; // nothing known: assume it still exists
            }
        }
    }
}

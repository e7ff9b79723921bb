package io.zonekeeper.xen.vchan;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The files the driver and the shared channel keeper exchange. */
public class KeeperFolderTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static KeeperConfig config(UUID zone, int domid) {
        return new KeeperConfig(zone, domid, KeeperConfig.xsBase(domid), Path.of("/run/xenstored/socket"),
                List.of(new KeeperConfig.Channel("data", Path.of("/z/channels/data.sock"), true),
                        new KeeperConfig.Channel("link", Path.of("/s/channels/ab.sock"), false)));
    }

    @Test
    public void aRegisteredZoneIsReadBackAsWritten() throws Exception {
        KeeperFolder f = new KeeperFolder(tmp.getRoot().toPath().resolve("keeper"));
        KeeperConfig c = config(UUID.randomUUID(), 7);
        f.register(c);
        assertEquals(List.of(c), f.registered());
        assertFalse("no temporary file is left", Files.list(f.zones()).anyMatch(p -> p.getFileName().toString()
                .endsWith(".tmp")));
        f.unregister(c.zone());
        assertEquals(List.of(), f.registered());
    }

    @Test
    public void retiringAZoneWhoseDomainIsGoneKeepsARegistrationForItsNextDomain() throws Exception {
        KeeperFolder f = new KeeperFolder(tmp.getRoot().toPath().resolve("keeper"));
        UUID zone = UUID.randomUUID();
        KeeperConfig first = config(zone, 7);
        KeeperConfig next = config(zone, 8);
        f.register(first);
        f.register(next); // the zone was started again before the keeper saw domain 7 go
        f.retire(first);
        assertEquals(List.of(next), f.registered());
        f.retire(next);
        assertEquals(List.of(), f.registered());
        f.retire(next); // gone already: nothing to do
    }

    @Test
    public void theServingMarkNamesThePidAndTheDomain() throws Exception {
        KeeperFolder f = new KeeperFolder(tmp.getRoot().toPath().resolve("keeper"));
        UUID zone = UUID.randomUUID();
        assertEquals(Optional.empty(), f.serving(zone));
        f.markServing(zone, 4242, 9);
        assertEquals(Optional.of(new KeeperFolder.Serving(4242, 9)), f.serving(zone));
        f.unmarkServing(zone);
        assertEquals(Optional.empty(), f.serving(zone));
        assertTrue(f.pid().isEmpty());
        f.writePid(4242);
        assertEquals(Optional.of(4242L), f.pid());
    }
}

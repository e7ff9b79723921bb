package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.PreparedChannel;

/** Pairing of zone-to-zone channels: both specs name it, or nobody gets it. */
public class ChannelBrokerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private ChannelBroker broker;
    private final Map<String, ChannelBroker.Party> zones = new TreeMap<>();

    @Before
    public void setUp() throws Exception {
        broker = new ChannelBroker(tmp.getRoot().toPath().resolve("state/channels"));
    }

    private void zone(String name, ZoneState state, String driver, ChannelSpec... channels) {
        ZoneSpec.Builder b = ZoneSpec.builder(name);
        for (ChannelSpec c : channels) {
            b.channel(c);
        }
        zones.put(name, new ChannelBroker.Party(name, b.build(), state, driver));
    }

    private void zone(String name, ChannelSpec... channels) {
        zone(name, ZoneState.DEFINED, null, channels);
    }

    private static ChannelSpec ch(String name, String peer) {
        return new ChannelSpec(name, peer);
    }

    private String refusal(String zone) {
        try {
            broker.prepare(zone, "kvm", zones);
            throw new AssertionError("zone " + zone + " should have been refused");
        } catch (ZoneException e) {
            return e.getMessage();
        }
    }

    @Test
    public void bothSidesGetTheSameSocketAndTheZoneWhoseNameSortsFirstListens() throws Exception {
        zone("beta", ch("data", "alpha"));
        zone("alpha", ch("data", "beta"));
        List<PreparedChannel> a = broker.prepare("alpha", "kvm", zones);
        List<PreparedChannel> b = broker.prepare("beta", "kvm", zones);
        assertEquals(1, a.size());
        assertEquals(1, b.size());
        assertEquals(new PreparedChannel("data", "beta", a.get(0).socket(), true), a.get(0));
        assertEquals(new PreparedChannel("data", "alpha", a.get(0).socket(), false), b.get(0));
        assertTrue(a.get(0).socket().startsWith(broker.directory().toString() + "/"));
        assertTrue(a.get(0).socket().endsWith(".sock"));
    }

    @Test
    public void theRendezvousDependsOnThePairAndTheChannelOnly() {
        Path ab = broker.socket("a", "b", "data");
        assertEquals(ab, broker.socket("b", "a", "data"));
        assertNotEquals(ab, broker.socket("a", "c", "data"));
        assertNotEquals(ab, broker.socket("a", "b", "logs"));
        assertEquals("the same on another appliance run", ab,
                new ChannelBroker(broker.directory()).socket("a", "b", "data"));
    }

    @Test
    public void aPeerThatDoesNotExistIsNamed() {
        zone("a", ch("data", "b"));
        String m = refusal("a");
        assertTrue(m, m.contains("channels[0] data@b: there is no zone b; create it with the channel data@a"));
    }

    @Test
    public void aPeerThatDoesNotNameTheChannelBackIsNamed() {
        zone("a", ch("data", "b"));
        zone("b", ch("other", "a"));
        assertTrue(refusal("a"), refusal("a").contains("zone b names no channel data; it needs data@a"));
        zone("b", ChannelSpec.toHost("data"));
        assertTrue(refusal("a"), refusal("a").contains("zone b has data as a host channel, not one to zone a"));
    }

    @Test
    public void aThirdZoneThatNamesTheChannelIsRefusedAndThePairIsUntouched() throws Exception {
        zone("a", ch("data", "b"));
        zone("b", ch("data", "a"));
        zone("c", ch("data", "a"));
        String m = refusal("c");
        assertTrue(m, m.contains("zone a's channel data goes to zone b, not to zone c"));
        assertTrue(m, m.contains("zone c cannot start"));
        assertEquals(1, broker.prepare("a", "kvm", zones).size());
        assertEquals(1, broker.prepare("b", "kvm", zones).size());
    }

    @Test
    public void everyMissingHalfIsNamedInOneMessage() {
        zone("a", ch("one", "b"), ch("two", "c"), ChannelSpec.toHost("log"));
        zone("b", ch("one", "x"));
        String m = refusal("a");
        assertTrue(m, m.contains("channels[0] one@b: zone b's channel one goes to zone x"));
        assertTrue(m, m.contains("channels[1] two@c: there is no zone c"));
        assertFalse(m, m.contains("log"));
    }

    @Test
    public void hostChannelsAreLeftToTheDriverAndMakeNoFolder() throws Exception {
        zone("a", ChannelSpec.toHost("log"));
        assertEquals(List.of(), broker.prepare("a", "kvm", zones));
        assertFalse(Files.exists(broker.directory()));
    }

    @Test
    public void theRendezvousFolderIsTheOwnersOnly() throws Exception {
        zone("a", ch("data", "b"));
        zone("b", ch("data", "a"));
        broker.prepare("a", "kvm", zones);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(broker.directory())));
    }

    @Test
    public void bothEndsMustUseOneDriverType() {
        zone("a", ch("data", "b"));
        zone("b", ZoneState.RUNNING, "xen", ch("data", "a"));
        assertTrue(refusal("a"), refusal("a").contains("zone b runs on xen and this zone on kvm"));
        zone("b", ZoneState.STOPPED, "xen", ch("data", "a"));
        zones.put("b", new ChannelBroker.Party("b", ZoneSpec.builder("b").hypervisor("xen").channel(ch("data", "a"))
                .build(), ZoneState.DEFINED, null));
        assertTrue(refusal("a"), refusal("a").contains("zone b asks to run on xen"));
    }

    @Test
    public void aStateDirectoryTooLongForASocketIsRefusedWithWhatToDo() {
        broker = new ChannelBroker(Path.of("/tmp/" + "x".repeat(90) + "/channels"));
        zone("a", ch("data", "b"));
        zone("b", ch("data", "a"));
        String m = refusal("a");
        assertTrue(m, m.contains("at most 107") && m.contains("shorter state directory"));
    }

    @Test
    public void forgettingADestroyedListenerRemovesItsSocketOnly() throws Exception {
        zone("a", ch("data", "b"));
        zone("b", ch("data", "a"), ch("logs", "c"));
        zone("c", ch("logs", "b"));
        Path ab = Path.of(broker.prepare("a", "kvm", zones).get(0).socket());
        Path bc = broker.socket("b", "c", "logs");
        Files.createFile(ab);
        Files.createFile(bc);
        broker.forget("b", zones.get("b").spec());
        assertTrue("a listens on data, so b's end is not b's to remove", Files.exists(ab));
        assertFalse("b listened on logs", Files.exists(bc));
    }

    @Test
    public void theListingShowsPairsOnceHalvesAndHostChannelsWithWhatEachGuestReported() {
        zone("a", ZoneState.RUNNING, "kvm", ch("data", "b"), ChannelSpec.toHost("log"));
        zone("b", ZoneState.STOPPED, "kvm", ch("data", "a"));
        zone("c", ch("data", "a"));
        Map<String, Map<String, ChannelCounters.Counters>> reports = Map.of(
                "a", Map.of("data", new ChannelCounters.Counters(4096, 3), "log", new ChannelCounters.Counters(7, 0)),
                "b", Map.of("data", new ChannelCounters.Counters(3, 4096)));
        List<ChannelBroker.Channel> list = broker.channels(zones, z -> reports.getOrDefault(z, Map.of()));
        assertEquals(3, list.size());

        ChannelBroker.Channel data = list.get(0);
        assertEquals("data", data.name());
        assertTrue(data.paired());
        assertEquals("a", data.ends().get(0).zone());
        assertEquals("listens", data.ends().get(0).role());
        assertEquals("connects", data.ends().get(1).role());
        assertEquals("one side down (b STOPPED)", data.state());
        assertEquals(broker.socket("a", "b", "data").toString(), data.socket());
        assertEquals(4096, data.ends().get(0).counters().sent());
        assertEquals(4096, data.ends().get(1).counters().received());

        ChannelBroker.Channel log = list.get(1);
        assertTrue(log.toHost());
        assertEquals("running", log.state());
        assertNull(log.socket());

        ChannelBroker.Channel half = list.get(2);
        assertFalse(half.paired());
        assertEquals("c", half.ends().get(0).zone());
        assertNull(half.ends().get(0).counters());
        assertTrue(half.state(), half.state().startsWith("not paired: zone a's channel data goes to zone b"));
    }
}

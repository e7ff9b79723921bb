package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ChannelSpec;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.PreparedChannel;

/** The registry hands each start the channels the broker paired, and refuses a half before the driver is called. */
public class ZoneChannelsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private ZoneRegistry registry;
    private ScriptedDriver kvm;
    private Path state;

    @Before
    public void setUp() throws Exception {
        ScriptedDriver.HOST.clear();
        state = tmp.newFolder("state").toPath();
        registry = new ZoneRegistry();
        registry.open(state, tmp.newFolder("zones").toPath(), Duration.ofMillis(300), Duration.ofSeconds(1));
        kvm = new ScriptedDriver("kvm");
        registry.addDriver(new DriverBinding(kvm, "kvm-driver", "1.0.0", 1));
    }

    @After
    public void tearDown() {
        registry.close();
    }

    private void create(String name, ChannelSpec... channels) throws ZoneException {
        ZoneSpec.Builder b = ZoneSpec.builder(name);
        for (ChannelSpec c : channels) {
            b.channel(c);
        }
        registry.create(b.build());
    }

    @Test
    public void eachSideIsHandedItsEndAndHostChannelsAreNotListed() throws Exception {
        create("a", new ChannelSpec("data", "b"), ChannelSpec.toHost("log"));
        create("b", new ChannelSpec("data", "a"));
        registry.start("a");
        List<PreparedChannel> a = kvm.lastResources.channels();
        registry.start("b");
        List<PreparedChannel> b = kvm.lastResources.channels();
        assertEquals(1, a.size());
        assertTrue(a.get(0).listens());
        assertFalse(b.get(0).listens());
        assertEquals(a.get(0).socket(), b.get(0).socket());
        assertTrue(a.get(0).socket().startsWith(state.resolve("channels").toAbsolutePath() + "/"));
        assertEquals(null, kvm.lastResources.channel("log"));
    }

    @Test
    public void aThirdZoneIsRefusedBeforeItsDriverIsCalled() throws Exception {
        create("a", new ChannelSpec("data", "b"));
        create("b", new ChannelSpec("data", "a"));
        create("c", new ChannelSpec("data", "a"));
        registry.start("a");
        registry.start("b");
        try {
            registry.start("c");
            fail("c is not named back");
        } catch (ZoneException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("zone a's channel data goes to zone b, not to zone c"));
        }
        assertFalse(kvm.calls.toString(), kvm.calls.contains("start c"));
        assertEquals(ZoneState.DEFINED, registry.get("c").orElseThrow().state());
        ChannelBroker.Channel data = registry.channels().get(0);
        assertEquals("both running", data.state());
        assertEquals(List.of("a", "b"), data.ends().stream().map(ChannelBroker.End::zone).toList());
    }

    @Test
    public void destroyingTheListenerRemovesTheRendezvous() throws Exception {
        create("a", new ChannelSpec("data", "b"));
        create("b", new ChannelSpec("data", "a"));
        registry.start("a");
        Path sock = Path.of(kvm.lastResources.channels().get(0).socket());
        Files.createFile(sock); // what the listening QEMU would have left
        registry.stop("a", Duration.ofSeconds(1));
        assertTrue("a stopped listener's socket stays for its next start", Files.exists(sock));
        registry.destroy("a");
        assertFalse(Files.exists(sock));
        assertTrue(registry.channels().get(0).state(), registry.channels().get(0).state()
                .startsWith("not paired: there is no zone a"));
    }
}

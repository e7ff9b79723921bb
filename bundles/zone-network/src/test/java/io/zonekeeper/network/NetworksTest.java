package io.zonekeeper.network;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.ChosenDriver;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;

public class NetworksTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path dir;
    private FakeHost host;
    private Networks nets;

    @Before
    public void setUp() throws Exception {
        dir = tmp.newFolder("networks").toPath();
        host = new FakeHost();
        nets = new Networks(dir, host);
        nets.open();
        nets.create("a", "10.99.0.0/24", false);
        nets.create("b", "10.99.1.0/24", false);
    }

    private static ZoneSpec zone(String name, String... networkAndIp) {
        ZoneSpec.Builder b = ZoneSpec.builder(name);
        for (int i = 0; i < networkAndIp.length; i += 2) {
            b.network(new NetworkAttachment(networkAndIp[i], networkAndIp[i + 1]));
        }
        return b.build();
    }

    private void refused(Runnable expectNothingChanged, String expected, ThrowingRunnable r) throws Exception {
        Set<String> linksBefore = host.links();
        List<NetworkRecord> before = nets.list();
        try {
            r.run();
            fail("should have been refused: " + expected);
        } catch (NetworkException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
        assertEquals(linksBefore, host.links());
        assertEquals(before, nets.list());
        expectNothingChanged.run();
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    public void overlappingSubnetsAndBadNamesAreRefusedAndChangeNothing() throws Exception {
        refused(() -> { }, "overlaps network a", () -> nets.create("c", "10.99.0.128/25", false));
        refused(() -> { }, "overlaps network a", () -> nets.create("c", "10.0.0.0/8", false));
        refused(() -> { }, "exists already", () -> nets.create("a", "10.98.0.0/24", false));
        refused(() -> { }, "did you mean", () -> nets.create("c", "10.98.0.1/24", false));
        refused(() -> { }, "network name", () -> nets.create("C_1", "10.98.0.0/24", false));
        assertEquals(2, nets.list().size());
    }

    @Test
    public void aZoneGetsATapAnAddressAndAMacAndGivesThemBack() throws Exception {
        UUID id = UUID.randomUUID();
        PreparedResources r = nets.prepare(id, zone("web", "a", null, "b", "10.99.1.9"));
        assertEquals(2, r.nics().size());
        PreparedNic a = r.nics().get(0);
        assertEquals("zkb-a", a.bridge());
        assertTrue(a.address(), a.address().startsWith("10.99.0.") && a.address().endsWith("/24"));
        assertEquals("10.99.0.1", a.gateway());
        assertEquals("10.99.1.9/24", r.nics().get(1).address());
        assertTrue(host.links().contains(a.tapDevice()));
        assertTrue("the lease is durable", Files.readString(dir.resolve("a.json")).contains(a.tapDevice()));
        assertEquals("the name is pinned to the lease before netback makes the vif",
                "zkb-a " + a.mac() + " " + a.address().replace("/24", "") + " null", host.pins.get(a.tapDevice()));
        assertEquals(List.of(), nets.orphans(Set.of(id)));
        assertEquals(2, nets.orphans(Set.of()).size());

        Networks reopened = new Networks(dir, host);
        reopened.open();
        assertEquals(1, reopened.get("a").orElseThrow().leases().size());

        nets.release(id);
        assertTrue(nets.get("a").orElseThrow().leases().isEmpty());
        assertTrue(host.links().stream().noneMatch(l -> l.startsWith("zkt")));
        assertEquals(List.of(), nets.orphans(Set.of()));
    }

    @Test
    public void aNatNetworkGetsItsRulesWithTheBridgeLosesThemWhenDestroyedAndGetsThemBackOnOpen() throws Exception {
        nets.create("out", "10.99.7.0/24", true);
        assertEquals("only the network with --nat has rules (a and b have none)", List.of("out"), host.nat);
        assertTrue(nets.get("out").orElseThrow().nat());
        assertEquals(List.of(), nets.get("a").orElseThrow().uplinks());

        host.nat.clear(); // a host reboot: no rules, and open() puts them back
        Networks reopened = new Networks(dir, host);
        reopened.open();
        assertEquals(List.of("out"), host.nat);

        reopened.destroy("out", List.of());
        assertEquals(List.of(), host.nat);
        assertTrue(host.links().stream().noneMatch(l -> l.contains("out")));
    }

    @Test
    public void aNatNetworkGoesOutByTheDefaultRoutesInterfacesOrItsUplinkAndIsRefusedWithoutEither() throws Exception {
        NetworkRecord out = nets.create("out", "10.99.7.0/24", true);
        assertEquals(null, out.uplink());
        assertEquals(List.of(new Uplink("eth0", "0")), out.uplinks());
        assertEquals("the rules name the uplink", List.of("eth0"), host.natUplinks.get("out"));
        assertEquals("forwarding switched on for the uplink", "1", host.forwarding("eth0"));
        assertEquals("and for the NAT bridge", "1", host.forwarding("zkb-out"));
        assertEquals("not for other bridges", "0", host.forwarding("zkb-a"));

        host.links.add("wan1");
        NetworkRecord via = nets.create("via", "10.99.8.0/24", null, true, "wan1");
        assertEquals("wan1", via.uplink());
        assertEquals(List.of(new Uplink("wan1", "0")), via.uplinks());
        assertEquals(List.of("wan1"), host.natUplinks.get("via"));
        assertEquals("1", host.forwarding("wan1"));

        Networks reopened = new Networks(dir, host);
        assertEquals(List.of(), reopened.open());
        assertEquals("durable", out, reopened.get("out").orElseThrow());
        assertEquals("durable", via, reopened.get("via").orElseThrow());

        Runnable nothingSwitched = () -> {
            assertEquals(Set.of("out", "via"), Set.copyOf(host.nat));
            assertEquals("1", host.forwarding("eth0"));
            assertEquals("1", host.forwarding("wan1"));
            assertEquals("0", host.forwarding("lo"));
        };
        host.defaultRoute.clear();
        refused(nothingSwitched, "--nat: this host has no IPv4 default route, so there is no uplink",
                () -> nets.create("c", "10.99.9.0/24", true));
        refused(nothingSwitched, "--uplink: the host has no interface named nope",
                () -> nets.create("c", "10.99.9.0/24", null, true, "nope"));
        refused(nothingSwitched, "--uplink: zkb-a is a zone network's device",
                () -> nets.create("c", "10.99.9.0/24", null, true, "zkb-a"));
        refused(nothingSwitched, "--uplink: 'eth0\" drop' is not an interface name",
                () -> nets.create("c", "10.99.9.0/24", null, true, "eth0\" drop"));
        refused(nothingSwitched, "--uplink lo is for NAT only",
                () -> nets.create("c", "10.99.9.0/24", null, false, "lo"));
        host.defaultRoute.add("zkb-a");
        refused(nothingSwitched, "default route goes by interface 'zkb-a', which cannot be a NAT uplink",
                () -> nets.create("c", "10.99.9.0/24", true));

        // A multipath default route: every interface of it is an uplink.
        host.links.add("wan2");
        host.defaultRoute.clear();
        host.defaultRoute.addAll(List.of("wan2", "wan1"));
        NetworkRecord both = nets.create("both", "10.99.9.0/24", true);
        assertEquals(List.of("wan2", "wan1"), host.natUplinks.get("both"));
        assertEquals("1", host.forwarding("wan2"));
        assertEquals("wan1 was 0 before the appliance switched it on for network via",
                List.of(new Uplink("wan2", "0"), new Uplink("wan1", "0")), both.uplinks());
        nets.destroy("via", List.of());
        assertEquals("network both uses it still", "1", host.forwarding("wan1"));
        nets.destroy("both", List.of());
        assertEquals("0", host.forwarding("wan1"));
        assertEquals("0", host.forwarding("wan2"));
        assertEquals("network out's", "1", host.forwarding("eth0"));
    }

    @Test
    public void theUplinksForwardingIsPutBackWhenTheLastNatNetworkOnItIsDestroyed() throws Exception {
        nets.create("n1", "10.99.7.0/24", true);
        assertEquals("1", host.forwarding("eth0"));
        NetworkRecord n2 = nets.create("n2", "10.99.8.0/24", true);
        assertEquals("the value before the appliance switched it on, not the 1 that n2 found",
                List.of(new Uplink("eth0", "0")), n2.uplinks());
        nets.destroy("n1", List.of());
        assertEquals("n2 still uses it", "1", host.forwarding("eth0"));
        assertEquals(List.of("eth0"), host.natUplinks.get("n2"));

        host.forwarding.clear(); // a host reboot: forwarding is off again, and there are no rules
        host.nat.clear();
        host.natUplinks.clear();
        Networks reopened = new Networks(dir, host);
        assertEquals(List.of(), reopened.open());
        assertEquals("switched on again", "1", host.forwarding("eth0"));
        assertEquals(List.of("eth0"), host.natUplinks.get("n2"));
        assertEquals("still the value from before", List.of(new Uplink("eth0", "0")),
                reopened.get("n2").orElseThrow().uplinks());
        reopened.destroy("n2", List.of());
        assertEquals("back as it was", "0", host.forwarding("eth0"));

        // An uplink that forwarded before keeps forwarding.
        host.links.add("wan1");
        host.forwarding.put("wan1", "1");
        reopened.create("n3", "10.99.9.0/24", null, true, "wan1");
        reopened.destroy("n3", List.of());
        assertEquals("1", host.forwarding("wan1"));
        assertEquals(List.of(), host.nat);
    }

    @Test
    public void whenTheDefaultRouteMovesTheNextStartTakesTheNewUplinkAndPutsTheOldOneBack() throws Exception {
        nets.create("n1", "10.99.7.0/24", true);
        host.links.add("wan1");
        nets.create("pinned", "10.99.8.0/24", null, true, "wan1");
        host.links.add("wan2");
        host.defaultRoute.clear();
        host.defaultRoute.add("wan2");

        Networks reopened = new Networks(dir, host);
        assertEquals(List.of(), reopened.open());
        assertEquals(List.of(new Uplink("wan2", "0")), reopened.get("n1").orElseThrow().uplinks());
        assertEquals(List.of("wan2"), host.natUplinks.get("n1"));
        assertEquals("1", host.forwarding("wan2"));
        assertEquals("eth0 is no NAT network's uplink now: back as it was", "0", host.forwarding("eth0"));
        assertEquals("--uplink stays", List.of("wan1"), host.natUplinks.get("pinned"));
        assertEquals("1", host.forwarding("wan1"));
        assertEquals("durable", List.of(new Uplink("wan2", "0")), NetworkStore.parse(Files.readString(
                dir.resolve("n1.json"))).uplinks());

        // No default route at all (the network is not up yet): the uplink it had is kept, and said so.
        host.defaultRoute.clear();
        host.forwarding.clear();
        Networks third = new Networks(dir, host);
        List<String> problems = third.open();
        assertEquals(problems.toString(), 1, problems.size());
        assertTrue(problems.get(0), problems.get(0).contains("network n1: there is no IPv4 default route now, so "
                + "NAT keeps the uplink(s) it had: wan2"));
        assertEquals(List.of("wan2"), host.natUplinks.get("n1"));
        assertEquals("1", host.forwarding("wan2"));
    }

    @Test
    public void aNatRecordOfAnOlderVersionGetsTheDefaultRoutesUplinkOnOpen() throws Exception {
        Files.writeString(dir.resolve("old.json"), "{\"name\":\"old\",\"subnet\":\"10.99.7.0/24\",\"nat\":true,"
                + "\"bridge\":\"zkb-old\",\"created\":\"2025-01-01T00:00:00Z\",\"leases\":[]}");
        Networks reopened = new Networks(dir, host);
        assertEquals(List.of(), reopened.open());
        assertEquals(List.of(new Uplink("eth0", "0")), reopened.get("old").orElseThrow().uplinks());
        assertEquals("1", host.forwarding("eth0"));
        assertEquals(List.of("eth0"), host.natUplinks.get("old"));
        assertTrue(Files.readString(dir.resolve("old.json")).contains("\"uplinks\""));
    }

    @Test
    public void forwardingThatCannotBeSwitchedOnUndoesTheNetwork() throws Exception {
        host.failForwarding = true;
        refused(() -> {
            assertEquals(List.of(), host.nat);
            assertEquals("0", host.forwarding("eth0"));
        }, "Permission denied", () -> nets.create("out", "10.99.7.0/24", true));
        assertTrue(!Files.exists(dir.resolve("out.json")));
    }

    @Test
    public void aZoneWhoseDriverMakesItsOwnInterfaceGetsALeaseAndAnInterfaceNameButNoTap() throws Exception {
        UUID id = UUID.randomUUID();
        // No hypervisor named: the driver zone-core chose (Xen, whose netback makes the vif) decides, not the spec.
        ZoneSpec spec = zone("web", "a", null);
        Set<String> before = host.links();
        PreparedResources r = new NetworkProvider(nets).prepare(id, spec, driver("xen", Feature.OWN_HOST_INTERFACE));
        PreparedNic a = r.nics().get(0);
        assertEquals("zkb-a", a.bridge());
        assertTrue(a.tapDevice(), a.tapDevice().startsWith("zkt"));
        assertEquals("no device is made: netback makes the vif, named " + a.tapDevice(), before, host.links());
        assertTrue("the lease is durable", Files.readString(dir.resolve("a.json")).contains(a.tapDevice()));
        assertEquals("the name is pinned to the lease before netback makes the vif",
                "zkb-a " + a.mac() + " " + a.address().replace("/24", "") + " null", host.pins.get(a.tapDevice()));
        host.links.add(a.tapDevice()); // netback's vif while the domain runs: leased, so no orphan
        assertEquals(List.of(), nets.orphans(Set.of(id)));
        host.links.remove(a.tapDevice()); // gone with the domain
        nets.release(id);
        assertTrue(nets.get("a").orElseThrow().leases().isEmpty());
        assertEquals(List.of(), nets.orphans(Set.of()));
        assertEquals(Map.of(), host.pins);
    }

    @Test
    public void anInterfaceNameThatCannotBePinnedRefusesTheStartOfAZoneWhoseDriverMakesTheInterface() throws Exception {
        host.failPin = true;
        UUID id = UUID.randomUUID();
        refused(() -> assertEquals(Map.of(), host.pins), "could not be pinned to its lease", () -> new NetworkProvider(nets).prepare(id, zone("web", "a", null),
                driver("xen", Feature.OWN_HOST_INTERFACE)));
    }

    @Test
    public void aZoneWhoseDriverNeedsTapsGetsThemWhateverHypervisorItNames() throws Exception {
        UUID id = UUID.randomUUID();
        // A hypervisor named "xen" served by a driver without the ability (a test double, a KVM driver registered
        // under that type): the tap is made, since nothing else would make the interface.
        ZoneSpec spec = zone("web", "a", null).toBuilder().hypervisor("xen").build();
        PreparedNic a = new NetworkProvider(nets).prepare(id, spec, driver("xen", Feature.NETWORK)).nics().get(0);
        assertTrue(host.links().toString(), host.links().contains(a.tapDevice()));
        nets.release(id);
        assertTrue(!host.links().contains(a.tapDevice()));
    }

    private static ChosenDriver driver(String type, Feature... features) {
        return new ChosenDriver(type, new Capabilities(Set.of(features), 4, 1024, Map.of()));
    }

    @Test
    public void aFixedAddressOutsideTheSubnetOrLeasedOrAnUnknownNetworkIsRefusedNamingTheField() throws Exception {
        nets.prepare(UUID.randomUUID(), zone("web", "a", "10.99.0.7"));
        refused(() -> { }, "networks[0].ip: 10.99.0.7 is already leased to zone web",
                () -> nets.prepare(UUID.randomUUID(), zone("db", "a", "10.99.0.7")));
        refused(() -> { }, "networks[1].ip: 10.99.5.5 is outside subnet 10.99.1.0/24",
                () -> nets.prepare(UUID.randomUUID(), zone("db", "a", null, "b", "10.99.5.5")));
        refused(() -> { }, "networks[0].network: no network named 'nope'",
                () -> nets.prepare(UUID.randomUUID(), zone("db", "nope", null)));
    }

    @Test
    public void aTapThatCannotBeMadeUndoesTheOnesBefore() throws Exception {
        host.failTapAfter = 1;
        refused(() -> { }, "Operation not permitted",
                () -> nets.prepare(UUID.randomUUID(), zone("web", "a", null, "b", null)));
    }

    @Test
    public void eachTapIsPinnedToItsLeaseUntilItIsReleased() throws Exception {
        UUID id = UUID.randomUUID();
        PreparedNic nic = nets.prepare(id, zone("web", "a", "10.99.0.40")).nics().get(0);
        assertEquals("zkb-a " + nic.mac() + " 10.99.0.40 null", host.pins.get(nic.tapDevice()));
        nets.release(id);
        assertEquals(Map.of(), host.pins);
    }

    @Test
    public void aTapThatCannotBePinnedUndoesTheStartsTapsAndLeasesAndSaysWhy() throws Exception {
        host.failPin = true;
        refused(() -> assertEquals(Map.of(), host.pins), "could not be pinned to its lease",
                () -> nets.prepare(UUID.randomUUID(), zone("web", "a", null, "b", null)));
    }

    @Test
    public void aNetworkInUseIsNotDestroyedAndTheZoneIsNamed() throws Exception {
        refused(() -> { }, "used by zone(s) web", () -> nets.destroy("a", List.of("web")));
        UUID id = UUID.randomUUID();
        nets.prepare(id, zone("web", "a", null));
        refused(() -> { }, "leased to zone(s) web", () -> nets.destroy("a", List.of()));
        nets.release(id);
        nets.destroy("a", List.of());
        assertTrue(nets.get("a").isEmpty());
        assertTrue(!host.links().contains("zkb-a"));
        assertTrue(!Files.exists(dir.resolve("a.json")));
    }

    @Test
    public void anIpv6NetworkGivesItsZonesAUlaFromTheirMacAndTheBridgeTheGateway() throws Exception {
        NetworkRecord six = nets.create("six", "10.99.2.0/24", "auto", false);
        assertTrue(six.ipv6().toString(), six.ipv6().toString().startsWith("fd"));
        assertEquals(six.ipv6().gatewayCidr(), host.gateway6.get("zkb-six"));
        assertEquals(null, nets.get("a").orElseThrow().ipv6());
        assertEquals(null, host.gateway6.get("zkb-a"));
        NetworkRecord fixed = nets.create("fixed", "10.99.3.0/24", "fd12:3456:789a::/64", false);
        assertEquals("fd12:3456:789a::1/64", fixed.gateway6Cidr());

        UUID id = UUID.randomUUID();
        PreparedResources r = nets.prepare(id, zone("web", "six", null, "a", null, "fixed", "10.99.3.9"));
        PreparedNic n = r.nics().get(0);
        assertEquals(six.ipv6().address(n.mac()) + "/64", n.address6());
        assertEquals(six.ipv6().gateway(), n.gateway6());
        assertEquals("no IPv6 on a network without a prefix", null, r.nics().get(1).address6());
        assertEquals(null, r.nics().get(1).gateway6());
        assertTrue(r.nics().get(2).address6(), r.nics().get(2).address6().startsWith("fd12:3456:789a:0:"));
        assertEquals("fd12:3456:789a::1", r.nics().get(2).gateway6());

        // Durable: the prefix, the id and the zone's IPv6 address are in the record a new appliance reads.
        Networks reopened = new Networks(dir, host);
        reopened.open();
        NetworkRecord again = reopened.get("six").orElseThrow();
        assertEquals(six.ipv6(), again.ipv6());
        assertEquals(six.id(), again.id());
        assertEquals(n.address6().replace("/64", ""), again.leases().get(0).ip6());

        // The same zone gets the same address the next time; the lease goes with the zone.
        nets.release(id);
        assertEquals(n.address6(), nets.prepare(id, zone("web", "six", null)).nics().get(0).address6());
        nets.release(id);
        assertTrue(nets.get("six").orElseThrow().leases().isEmpty());
    }

    @Test
    public void aBadOrTakenIpv6PrefixIsRefusedNamingTheOptionAndChangesNothing() throws Exception {
        nets.create("six", "10.99.2.0/24", "fd12:3456:789a::/64", false);
        refused(() -> assertEquals(1, host.gateway6.size()), "--ipv6: prefix fd12:3456:789a::/64 overlaps network "
                + "six", () -> nets.create("c", "10.99.9.0/24", "fd12:3456:789a:0::/64", false));
        refused(() -> { }, "--ipv6: 2001:db8::/64 is not a unique local prefix",
                () -> nets.create("c", "10.99.9.0/24", "2001:db8::/64", false));
        refused(() -> { }, "--ipv6: 'fd12:3456::/48': a zone network's IPv6 prefix must be a /64",
                () -> nets.create("c", "10.99.9.0/24", "fd12:3456::/48", false));
        refused(() -> { }, "--ipv6: 'yes' is not an IPv6 prefix",
                () -> nets.create("c", "10.99.9.0/24", "yes", false));
        // The IPv4 subnet is checked too, whatever the IPv6 prefix.
        refused(() -> { }, "overlaps network a", () -> nets.create("c", "10.99.0.0/24", "auto", false));
        assertTrue(nets.get("c").isEmpty());
    }

    @Test
    public void aRecordWrittenBeforeNetworksHadIpv6IsReadAsIpv4Only() throws Exception {
        Files.writeString(dir.resolve("old.json"), "{\"name\":\"old\",\"subnet\":\"10.99.7.0/24\",\"nat\":false,"
                + "\"bridge\":\"zkb-old\",\"created\":\"2025-01-01T00:00:00Z\",\"leases\":[{\"zone\":\"w\","
                + "\"zoneId\":\"" + UUID.randomUUID() + "\",\"ip\":\"10.99.7.5\",\"mac\":\"0a:00:00:00:00:01\","
                + "\"tap\":\"zkt00000000001\"}]}");
        Networks reopened = new Networks(dir, host);
        assertEquals(List.of(), reopened.open());
        NetworkRecord old = reopened.get("old").orElseThrow();
        assertEquals(null, old.ipv6());
        assertEquals(null, old.leases().get(0).ip6());
        assertEquals("a stable id", old.id(), NetworkStore.parse(Files.readString(dir.resolve("old.json"))).id());
    }

    @Test
    public void releasingOrphansGivesBackLeasesOfUnknownZonesAndStrayTapsAndKeepsTheRest() throws Exception {
        UUID stopped = UUID.randomUUID();
        UUID unknown = UUID.randomUUID();
        UUID running = UUID.randomUUID();
        String stoppedTap = nets.prepare(stopped, zone("stopped", "a", null)).nics().get(0).tapDevice();
        String unknownTap = nets.prepare(unknown, zone("gone", "a", "10.99.0.9")).nics().get(0).tapDevice();
        String runningTap = nets.prepare(running, zone("running", "b", null)).nics().get(0).tapDevice();
        host.links.add("zkt00000000bad"); // made, then the appliance died before the lease was written
        assertEquals(3, nets.orphans(Set.of(running)).size());

        List<String> lines = nets.releaseOrphans(Set.of(running), Set.of(stopped, running));
        assertEquals(lines.toString(), 3, lines.size());
        assertTrue(lines.get(0), lines.get(0).startsWith("kept: lease ") && lines.get(0).contains("zone:start or "
                + "zone:destroy stopped gives it back"));
        assertTrue(lines.get(1), lines.get(1).startsWith("released: lease 10.99.0.9 on network a (tap "
                + unknownTap + ") of zone gone"));
        assertEquals("released: tap zkt00000000bad, which had no lease", lines.get(2));
        assertEquals(Set.of("lo", "eth0", "zkb-a", "zkb-b", stoppedTap, runningTap), host.links());
        Networks reopened = new Networks(dir, host);
        reopened.open();
        assertEquals("durable", List.of("stopped"), reopened.get("a").orElseThrow().leases().stream()
                .map(Lease::zone).toList());
        assertEquals(1, nets.orphans(Set.of(running)).size());
        assertEquals(List.of(), nets.releaseOrphans(Set.of(running, stopped), Set.of(stopped, running)));
    }
}

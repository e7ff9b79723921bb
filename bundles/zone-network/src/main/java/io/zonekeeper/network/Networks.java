package io.zonekeeper.network;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;

import io.zonekeeper.api.NetworkAttachment;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.network.host.HostNetwork;
import io.zonekeeper.network.ipv4.AddressAllocator;
import io.zonekeeper.network.ipv4.Cidr;
import io.zonekeeper.network.ipv4.HostNames;
import io.zonekeeper.network.ipv6.Ula;
import io.zonekeeper.spi.PreparedNic;
import io.zonekeeper.spi.PreparedResources;

/**
 * The networks of this appliance: their records, their leases, and the host devices behind them. Plain Java, so
 * that the logic is testable with a fake {@link HostNetwork}. Every change is all or nothing: host changes are
 * undone when a later step fails, and the record is written only once the host is as it says.
 */
public final class Networks {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.network");
    private final NetworkStore store;
    private final HostNetwork host;
    private final Map<String, NetworkRecord> networks = new TreeMap<>();

    public Networks(java.nio.file.Path dir, HostNetwork host) {
        this.store = new NetworkStore(dir);
        this.host = host;
    }

    /**
     * Reads the stored networks and makes sure their bridges exist (they do not survive a host reboot), and for NAT
     * networks their rules and their uplinks' forwarding: the uplinks are found again (the default route may have
     * moved since), and an uplink no NAT network uses any more gets its forwarding back.
     */
    public synchronized List<String> open() throws IOException {
        List<String> problems = new ArrayList<>();
        List<NetworkRecord> all = store.loadAll(problems);
        all.forEach(n -> networks.put(n.name(), n));
        Map<String, String> dropped = new LinkedHashMap<>();
        for (NetworkRecord n : all) {
            try {
                host.ensureBridge(n.bridge(), n.gatewayCidr(), n.gateway6Cidr(), n.nat());
            } catch (IOException e) {
                problems.add("network " + n.name() + ": bridge " + n.bridge() + " could not be restored: "
                        + e.getMessage());
                continue;
            }
            if (n.nat()) {
                restoreNat(n, problems, dropped);
            }
        }
        dropped.keySet().removeAll(uplinksInUse(null));
        for (Map.Entry<String, String> d : dropped.entrySet()) {
            try {
                if (host.forwarding(d.getKey()) != null) {
                    host.setForwarding(d.getKey(), d.getValue());
                    LOG.log(Level.INFO, "uplink " + d.getKey() + " is no NAT network's any more: IPv4 forwarding "
                            + "back to " + d.getValue());
                }
            } catch (IOException e) {
                problems.add("uplink " + d.getKey() + ": IPv4 forwarding could not be put back to " + d.getValue()
                        + ": " + e.getMessage());
            }
        }
        problems.forEach(p -> LOG.log(Level.WARNING, p));
        return problems;
    }

    /**
     * A NAT network's rules and uplinks as they should be now; {@code dropped} gets the uplinks it used and uses no
     * more, with the value to put back. Without a default route now the uplinks it had are kept (the appliance may
     * start before the network is up).
     */
    private void restoreNat(NetworkRecord n, List<String> problems, Map<String, String> dropped) {
        List<String> names;
        try {
            names = n.uplink() != null ? List.of(n.uplink()) : defaultRouteUplinks();
        } catch (IOException | NetworkException e) {
            names = List.of();
            problems.add("network " + n.name() + ": " + e.getMessage());
        }
        if (names.isEmpty()) {
            names = n.uplinkNames();
            problems.add("network " + n.name() + ": there is no IPv4 default route now, so NAT keeps the uplink(s) it "
                    + "had: " + (names.isEmpty() ? "none (net:destroy it and net:create it with --uplink IFACE)"
                    : String.join(", ", names)));
        }
        List<Uplink> now = new ArrayList<>();
        for (String u : names) {
            String before = rememberedForwarding(u, n);
            try {
                String found = host.forwarding(u);
                if (found == null) {
                    problems.add("network " + n.name() + ": uplink " + u + " is not there; its IPv4 forwarding "
                            + "is left as it is");
                } else if (before == null) {
                    before = found;
                }
            } catch (IOException e) {
                problems.add("network " + n.name() + ": uplink " + u + ": " + e.getMessage());
            }
            if (before != null) {
                now.add(new Uplink(u, before));
            }
        }
        for (Uplink old : n.uplinks()) {
            if (!names.contains(old.name())) {
                dropped.putIfAbsent(old.name(), old.forwardingBefore());
            }
        }
        NetworkRecord after = n.withUplinks(now);
        try {
            host.disableNat(n.name());
            host.enableNat(n.name(), n.bridge(), n.subnet().toString(), after.uplinkNames());
            for (Uplink u : now) {
                if (host.forwarding(u.name()) != null) {
                    host.setForwarding(u.name(), "1");
                }
            }
        } catch (IOException e) {
            problems.add("network " + n.name() + ": NAT could not be restored: " + e.getMessage());
        }
        if (!after.equals(n)) {
            try {
                store.write(after);
            } catch (IOException e) {
                problems.add("network " + n.name() + ": its uplinks could not be recorded: " + e.getMessage());
            }
            networks.put(n.name(), after);
        }
    }

    /** The uplinks some NAT network other than {@code except} uses. */
    private Set<String> uplinksInUse(NetworkRecord except) {
        Set<String> used = new HashSet<>();
        networks.values().stream().filter(o -> o.nat() && (except == null || !o.name().equals(except.name())))
                .forEach(o -> used.addAll(o.uplinkNames()));
        return used;
    }

    /**
     * What {@code iface}'s forwarding was before the appliance switched it on, where a NAT network remembers it
     * ({@code self} first): a second NAT network on the same uplink finds it switched on already.
     */
    private String rememberedForwarding(String iface, NetworkRecord self) {
        List<NetworkRecord> order = new ArrayList<>();
        if (self != null) {
            order.add(self);
        }
        order.addAll(networks.values());
        for (NetworkRecord o : order) {
            for (Uplink u : o.uplinks()) {
                if (u.name().equals(iface)) {
                    return u.forwardingBefore();
                }
            }
        }
        return null;
    }

    /** Interface names the appliance puts into nft rules and /proc paths: what Linux allows, and no wildcard. */
    private static final java.util.regex.Pattern IFACE = java.util.regex.Pattern.compile("[A-Za-z0-9_.@+-]{1,15}");

    private List<String> defaultRouteUplinks() throws IOException, NetworkException {
        List<String> devs = host.defaultRouteInterfaces();
        for (String d : devs) {
            if (!IFACE.matcher(d).matches() || d.startsWith(HostNames.BRIDGE_PREFIX)
                    || d.startsWith(HostNames.TAP_PREFIX)) {
                throw new NetworkException("the IPv4 default route goes by interface '" + d + "', which cannot be a "
                        + "NAT uplink; name one with --uplink IFACE");
            }
        }
        return devs;
    }

    /** The uplinks a new NAT network gets: {@code --uplink}, or the default route's interfaces. */
    private List<String> chooseUplinks(String uplink) throws NetworkException {
        try {
            if (uplink != null) {
                if (!IFACE.matcher(uplink).matches()) {
                    throw new NetworkException("--uplink: '" + uplink + "' is not an interface name");
                }
                if (uplink.startsWith(HostNames.BRIDGE_PREFIX) || uplink.startsWith(HostNames.TAP_PREFIX)) {
                    throw new NetworkException("--uplink: " + uplink + " is a zone network's device, not an uplink");
                }
                if (!host.links().contains(uplink)) {
                    throw new NetworkException("--uplink: the host has no interface named " + uplink
                            + " (ip link shows the interfaces)");
                }
                return List.of(uplink);
            }
            List<String> devs = defaultRouteUplinks();
            if (devs.isEmpty()) {
                throw new NetworkException("--nat: this host has no IPv4 default route, so there is no uplink to "
                        + "masquerade to; name the interface with --uplink IFACE, or add a default route first");
            }
            return devs;
        } catch (IOException e) {
            throw new NetworkException("--nat: the uplink could not be found: " + e.getMessage(), e);
        }
    }

    public synchronized List<NetworkRecord> list() {
        return List.copyOf(networks.values());
    }

    public synchronized Optional<NetworkRecord> get(String name) {
        return Optional.ofNullable(networks.get(name));
    }

    /** An IPv4-only network. */
    public NetworkRecord create(String name, String subnet, boolean nat) throws NetworkException {
        return create(name, subnet, null, nat, null);
    }

    /** A network whose NAT, if any, goes out by the default route's interfaces. */
    public NetworkRecord create(String name, String subnet, String ipv6, boolean nat) throws NetworkException {
        return create(name, subnet, ipv6, nat, null);
    }

    /**
     * Makes a network: its bridge with the gateway addresses, and its record.
     *
     * @param ipv6 null or empty for an IPv4-only network, {@code auto} for a unique local /64 derived from the new
     *             network's id, or such a prefix ({@code fd12:3456:789a::/64})
     * @param uplink with {@code nat}, the interface the zones' traffic leaves by; null or empty for the interfaces
     *             of the IPv4 default route (found again when the appliance starts). Its IPv4 forwarding is switched
     *             on, and put back when the last NAT network using it is destroyed.
     */
    public synchronized NetworkRecord create(String name, String subnet, String ipv6, boolean nat, String uplink)
            throws NetworkException {
        if (name == null || !ZoneSpec.NAME.matcher(name).matches()) {
            throw new NetworkException("network name '" + name + "' must be 1-63 lower-case letters, digits or "
                    + "dashes, starting with a letter or digit");
        }
        if (networks.containsKey(name)) {
            throw new NetworkException("network " + name + " exists already (" + networks.get(name).subnet()
                    + "); net:destroy it first or pick another name");
        }
        Cidr cidr;
        try {
            cidr = Cidr.parse(subnet);
        } catch (IllegalArgumentException e) {
            throw new NetworkException("--subnet: " + e.getMessage());
        }
        for (NetworkRecord other : networks.values()) {
            if (other.subnet().overlaps(cidr)) {
                throw new NetworkException("subnet " + cidr + " overlaps network " + other.name() + " ("
                        + other.subnet() + "); pick a subnet that shares no address with it");
            }
        }
        UUID id = UUID.randomUUID();
        Ula ula = null;
        if (ipv6 != null && !ipv6.isBlank()) {
            try {
                ula = ipv6.trim().equals("auto") ? Ula.fromId(id) : Ula.parse(ipv6.trim());
            } catch (IllegalArgumentException e) {
                throw new NetworkException("--ipv6: " + e.getMessage());
            }
            for (NetworkRecord other : networks.values()) {
                if (other.ipv6() != null && other.ipv6().overlaps(ula)) {
                    throw new NetworkException("--ipv6: prefix " + ula + " overlaps network " + other.name() + " ("
                            + other.ipv6() + "); pick another prefix, or auto");
                }
            }
        }
        String bridge = HostNames.bridge(name);
        for (NetworkRecord other : networks.values()) {
            if (other.bridge().equals(bridge)) {
                throw new NetworkException("network " + name + " would get bridge " + bridge + ", which network "
                        + other.name() + " has; pick another name");
            }
        }
        String option = uplink == null || uplink.isBlank() ? null : uplink.trim();
        if (option != null && !nat) {
            throw new NetworkException("--uplink " + option + " is for NAT only; add --nat");
        }
        List<Uplink> uplinks = new ArrayList<>();
        if (nat) {
            for (String u : chooseUplinks(option)) {
                String before = rememberedForwarding(u, null);
                if (before == null) {
                    try {
                        before = host.forwarding(u);
                    } catch (IOException e) {
                        throw new NetworkException("--nat: uplink " + u + ": " + e.getMessage(), e);
                    }
                }
                if (before == null) {
                    throw new NetworkException("--nat: uplink " + u + " has no IPv4 forwarding switch ("
                            + "/proc/sys/net/ipv4/conf/" + u + "/forwarding); name another with --uplink IFACE");
                }
                uplinks.add(new Uplink(u, before));
            }
        }
        NetworkRecord n = new NetworkRecord(name, id, cidr, ula, nat, option, uplinks, bridge, Instant.now(),
                List.of());
        try {
            if (host.links().contains(bridge)) {
                throw new NetworkException("the host already has an interface " + bridge + " that no network of "
                        + "this appliance owns; remove it (ip link del " + bridge + ") or pick another name");
            }
            host.ensureBridge(bridge, n.gatewayCidr(), n.gateway6Cidr(), nat);
        } catch (IOException e) {
            undoBridge(name, bridge, false);
            throw new NetworkException("network " + name + ": bridge " + bridge + " could not be made: "
                    + e.getMessage(), e);
        }
        try {
            if (nat) {
                // The rules first, the inbound one with them, and only then forwarding on the uplinks.
                host.enableNat(name, bridge, cidr.toString(), n.uplinkNames());
                for (Uplink u : uplinks) {
                    host.setForwarding(u.name(), "1");
                }
            }
            store.write(n);
        } catch (IOException e) {
            if (nat) {
                putBackUplinks(n);
            }
            undoBridge(name, bridge, nat);
            throw new NetworkException("network " + name + " could not be made: " + e.getMessage(), e);
        }
        networks.put(name, n);
        return n;
    }

    private void undoBridge(String name, String bridge, boolean nat) {
        try {
            if (nat) {
                host.disableNat(name);
            }
            host.deleteBridge(bridge);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "undoing network " + name + ": " + e.getMessage());
        }
    }

    /**
     * Puts back the forwarding of {@code n}'s uplinks that no other NAT network uses (skipping those that are gone);
     * best effort, for undoing a create.
     */
    private void putBackUplinks(NetworkRecord n) {
        try {
            restoreUplinks(n);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "undoing network " + n.name() + ": " + e.getMessage());
        }
    }

    private void restoreUplinks(NetworkRecord n) throws IOException {
        Set<String> others = uplinksInUse(n);
        for (Uplink u : n.uplinks()) {
            if (!others.contains(u.name()) && host.forwarding(u.name()) != null) {
                host.setForwarding(u.name(), u.forwardingBefore());
            }
        }
    }

    /**
     * Removes a network and its bridge. Refused while a zone names it ({@code usedBy}) or holds a lease on it.
     */
    public synchronized void destroy(String name, Collection<String> usedBy) throws NetworkException {
        NetworkRecord n = require(name);
        if (!usedBy.isEmpty()) {
            throw new NetworkException("network " + name + " is used by zone(s) " + String.join(", ", usedBy)
                    + "; destroy them or remove the network from their specs first");
        }
        if (!n.leases().isEmpty()) {
            throw new NetworkException("network " + name + " has addresses leased to zone(s) " + n.leases().stream()
                    .map(Lease::zone).collect(Collectors.joining(", ")) + "; stop them first");
        }
        try {
            if (n.nat()) {
                // Forwarding back first (where no other NAT network uses the uplink), then the rules.
                restoreUplinks(n);
                host.disableNat(name);
            }
            host.deleteBridge(n.bridge());
            store.delete(name);
        } catch (IOException e) {
            throw new NetworkException("network " + name + " could not be removed completely: " + e.getMessage(), e);
        }
        networks.remove(name);
    }

    private NetworkRecord require(String name) throws NetworkException {
        NetworkRecord n = networks.get(name);
        if (n == null) {
            throw new NetworkException("no network named '" + name + "'; net:list shows the networks there are");
        }
        return n;
    }

    /** Leases and makes taps as {@link #prepare(UUID, ZoneSpec, boolean)} does, for a driver that needs taps. */
    public PreparedResources prepare(UUID id, ZoneSpec spec) throws NetworkException {
        return prepare(id, spec, false);
    }

    /**
     * Leases an address on each network the spec names and makes the zone's taps. All or nothing; the message of
     * a refusal names the spec field ({@code networks[1].ip: ...}).
     *
     * @param hypervisorMakesInterface whether the zone's driver makes the host interface itself
     *                                 ({@link io.zonekeeper.spi.Feature#OWN_HOST_INTERFACE}, such as Xen's netback
     *                                 vif, named after the lease's tap name and put on the bridge): then a tap
     *                                 made here would only sit unused on the bridge, so the address, MAC and
     *                                 interface name are leased and no device is made; the name is pinned all the
     *                                 same (the pin matches the interface by name, so it is in place before the
     *                                 hypervisor makes the interface); release and the orphan checks stay the same
     */
    public synchronized PreparedResources prepare(UUID id, ZoneSpec spec, boolean hypervisorMakesInterface)
            throws NetworkException {
        release(id);
        List<String> errors = new ArrayList<>();
        List<Lease> planned = new ArrayList<>();
        List<NetworkRecord> on = new ArrayList<>();
        for (int i = 0; i < spec.networks().size(); i++) {
            NetworkAttachment a = spec.networks().get(i);
            NetworkRecord n = networks.get(a.network());
            if (n == null) {
                errors.add("networks[" + i + "].network: no network named '" + a.network() + "'; net:create it "
                        + "first");
                continue;
            }
            Map<Integer, String> leased = new HashMap<>();
            n.leases().forEach(l -> leased.put(Cidr.parseAddress(l.ip()), l.zone()));
            try {
                int ip = AddressAllocator.allocate(n.subnet(), leased, id, spec.name(), a.ip());
                String mac = HostNames.mac(id, n.name());
                String ip6 = n.ipv6() == null ? null : n.ipv6().address(mac);
                Lease same = ip6 == null ? null : n.leases().stream().filter(l -> ip6.equals(l.ip6())
                        && !l.zoneId().equals(id)).findFirst().orElse(null);
                if (same != null) {
                    // Two zone ids whose MACs on this network collide: 46 bits of a hash, so next to impossible.
                    errors.add("networks[" + i + "]: IPv6 address " + ip6 + " (from MAC " + mac + ") is already "
                            + "leased to zone " + same.zone());
                    continue;
                }
                planned.add(new Lease(spec.name(), id, Cidr.format(ip), ip6, mac, HostNames.tap(id, n.name())));
                on.add(n);
            } catch (IllegalArgumentException e) {
                errors.add("networks[" + i + "]" + (a.ip() == null ? "" : ".ip") + ": " + e.getMessage());
            }
        }
        if (!errors.isEmpty()) {
            throw new NetworkException("zone " + spec.name() + ": " + String.join("; ", errors));
        }
        List<String> made = new ArrayList<>();
        List<String> pinned = new ArrayList<>();
        List<NetworkRecord> written = new ArrayList<>();
        try {
            // Leases first, durably: a kill -9 while the taps are made then leaves leases of a zone that does not
            // run, which the next appliance gives back with their taps, never a tap that no lease explains.
            for (int i = 0; i < planned.size(); i++) {
                NetworkRecord after = networks.get(on.get(i).name()).withLease(planned.get(i));
                store.write(after);
                written.add(networks.put(after.name(), after));
            }
            Set<String> links = host.links();
            for (int i = 0; i < planned.size(); i++) {
                Lease l = planned.get(i);
                if (links.contains(l.tap())) {
                    host.deleteTap(l.tap()); // left by a crash: this zone's own name, so nobody else's
                }
                if (!hypervisorMakesInterface) {
                    host.createTap(l.tap(), on.get(i).bridge());
                    made.add(l.tap());
                }
                try {
                    host.pinTap(on.get(i).bridge(), l.tap(), l.mac(), l.ip(), l.ip6());
                    pinned.add(l.tap());
                } catch (IOException e) {
                    throw new IOException("tap " + l.tap() + " could not be pinned to its lease (MAC " + l.mac()
                            + ", " + l.ip() + (l.ip6() == null ? "" : ", " + l.ip6()) + "): " + e.getMessage(), e);
                }
            }
        } catch (IOException e) {
            for (NetworkRecord before : written) {
                networks.put(before.name(), before);
                try {
                    store.write(before);
                } catch (IOException again) {
                    LOG.log(Level.WARNING, "undoing a lease on " + before.name() + ": " + again.getMessage());
                }
            }
            // Up to the one that failed: each was made, pinned or both (unpinning what has no pin is no error).
            for (int i = 0; i < Math.max(made.size(), pinned.size()); i++) {
                String tap = planned.get(i).tap();
                try {
                    host.unpinTap(on.get(i).bridge(), tap);
                    if (made.contains(tap)) {
                        host.deleteTap(tap);
                    }
                } catch (IOException again) {
                    LOG.log(Level.WARNING, "undoing tap " + tap + ": " + again.getMessage());
                }
            }
            throw new NetworkException("zone " + spec.name() + ": its network devices could not be made: "
                    + e.getMessage(), e);
        }
        List<PreparedNic> nics = new ArrayList<>();
        for (int i = 0; i < planned.size(); i++) {
            Lease l = planned.get(i);
            NetworkRecord n = on.get(i);
            nics.add(new PreparedNic(n.name(), l.tap(), n.bridge(), l.mac(), l.ip() + "/" + n.subnet().prefix(),
                    Cidr.format(n.subnet().gateway()), l.ip6() == null ? null : l.ip6() + "/" + Ula.PREFIX_LENGTH,
                    l.ip6() == null ? null : n.ipv6().gateway()));
        }
        return new PreparedResources(nics, List.of());
    }

    /** Gives back the zone's leases and removes its taps. */
    public synchronized void release(UUID id) {
        for (NetworkRecord n : List.copyOf(networks.values())) {
            List<Lease> mine = n.leases().stream().filter(l -> l.zoneId().equals(id)).toList();
            if (mine.isEmpty()) {
                continue;
            }
            for (Lease l : mine) {
                try {
                    host.deleteTap(l.tap());
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "tap " + l.tap() + " of zone " + l.zone() + " could not be removed: "
                            + e.getMessage());
                }
            }
            NetworkRecord after = n.withoutZone(id);
            try {
                store.write(after);
                networks.put(after.name(), after);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "the leases of zone " + id + " on " + n.name() + " could not be given back: "
                        + e.getMessage());
            }
            // After the lease is given back: the zone's end is reported as soon as its lease is free, and a pin
            // whose tap is gone matches nothing (the next pin of that tap name flushes it anyway).
            for (Lease l : mine) {
                try {
                    host.unpinTap(n.bridge(), l.tap());
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "the pin of tap " + l.tap() + " of zone " + l.zone() + " could not be "
                            + "removed: " + e.getMessage());
                }
            }
        }
    }

    /** Leases of zones that do not run, and taps of ours that no lease explains. */
    public synchronized List<String> orphans(Set<UUID> activeZones) {
        List<String> out = new ArrayList<>();
        Set<String> leasedTaps = new java.util.HashSet<>();
        for (NetworkRecord n : networks.values()) {
            for (Lease l : n.leases()) {
                leasedTaps.add(l.tap());
                if (!activeZones.contains(l.zoneId())) {
                    out.add("lease " + l.ip() + " on network " + n.name() + " (tap " + l.tap() + ") is held by zone "
                            + l.zone() + " (" + l.zoneId() + "), which does not run");
                }
            }
        }
        try {
            for (String link : host.links()) {
                if (link.startsWith(HostNames.TAP_PREFIX) && !leasedTaps.contains(link)) {
                    out.add("tap " + link + " has no lease");
                }
            }
        } catch (IOException e) {
            out.add("the host's links could not be listed: " + e.getMessage());
        }
        return out;
    }

    /**
     * Gives back what {@link #orphans} reports, for the operator ({@code net:orphans --release}): leases of zones
     * that do not run and that this appliance does not know (a zone whose record was quarantined, say), with their
     * taps, and taps of ours that no lease explains (one per appliance and network namespace is assumed, as for the
     * bridges). A lease of a known zone that does not run is kept: the zone's next start or its destroy gives it
     * back, and a start may be preparing it at this moment. One line for each thing released or kept.
     */
    public synchronized List<String> releaseOrphans(Set<UUID> activeZones, Set<UUID> knownZones) {
        List<String> out = new ArrayList<>();
        Set<String> leasedTaps = new java.util.HashSet<>();
        for (NetworkRecord n : List.copyOf(networks.values())) {
            for (Lease l : n.leases()) {
                leasedTaps.add(l.tap());
                String what = "lease " + l.ip() + (l.ip6() == null ? "" : " " + l.ip6()) + " on network " + n.name()
                        + " (tap " + l.tap() + ") of zone " + l.zone() + " (" + l.zoneId() + ")";
                if (activeZones.contains(l.zoneId())) {
                    continue;
                }
                if (knownZones.contains(l.zoneId())) {
                    out.add("kept: " + what + ", a zone of this appliance: zone:start or zone:destroy " + l.zone()
                            + " gives it back");
                    continue;
                }
                try {
                    host.unpinTap(n.bridge(), l.tap());
                    host.deleteTap(l.tap());
                    NetworkRecord after = networks.get(n.name()).withoutLease(l);
                    store.write(after);
                    networks.put(after.name(), after);
                    out.add("released: " + what);
                } catch (IOException e) {
                    out.add("not released: " + what + ": " + e.getMessage());
                }
            }
        }
        try {
            for (String link : host.links()) {
                if (link.startsWith(HostNames.TAP_PREFIX) && !leasedTaps.contains(link)) {
                    try {
                        host.deleteTap(link);
                        out.add("released: tap " + link + ", which had no lease");
                    } catch (IOException e) {
                        out.add("not released: tap " + link + ": " + e.getMessage());
                    }
                }
            }
        } catch (IOException e) {
            out.add("the host's links could not be listed: " + e.getMessage());
        }
        return out;
    }
}

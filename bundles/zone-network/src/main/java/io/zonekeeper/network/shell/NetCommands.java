package io.zonekeeper.network.shell;

import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.network.Lease;
import io.zonekeeper.network.NetworkException;
import io.zonekeeper.network.NetworkProvider;
import io.zonekeeper.network.NetworkRecord;
import io.zonekeeper.network.Uplink;
import io.zonekeeper.network.ipv4.Cidr;

/** The {@code net:} shell commands. Each failure says what was wrong and changes nothing. */
@Component(service = NetCommands.class)
@GogoCommand(scope = "net", function = { "create", "list", "info", "destroy", "orphans" })
public class NetCommands {
    @Reference
    NetworkProvider provider;
    @Reference
    ZoneManager zones;

    @Descriptor("Create a network: a host bridge with the subnet's first address as the zones' gateway")
    public String create(
            @Descriptor("IPv4 subnet, such as 10.99.0.0/24") @Parameter(names = "--subnet", absentValue = "") String subnet,
            @Descriptor("IPv6 unique local /64 prefix such as fd12:3456:789a::/64, or auto (derived from the network's id); none by default") @Parameter(names = "--ipv6", absentValue = "") String ipv6,
            @Descriptor("masquerade the zones' traffic to the host's uplink (nftables), switching IPv4 forwarding on there; off by default") @Parameter(names = "--nat", presentValue = "true", absentValue = "false") boolean nat,
            @Descriptor("with --nat: the interface the zones' traffic leaves by; by default the interface(s) of the IPv4 default route") @Parameter(names = "--uplink", absentValue = "") String uplink,
            @Descriptor("network name") String name) throws NetworkException {
        if (subnet.isEmpty()) {
            throw new NetworkException("usage: net:create NAME --subnet CIDR [--ipv6 PREFIX|auto] [--nat [--uplink "
                    + "IFACE]] (--subnet is required)");
        }
        NetworkRecord n = provider.networks().create(name, subnet, ipv6, nat, uplink);
        return "network " + n.name() + " " + n.subnet() + " on bridge " + n.bridge() + ", gateway "
                + n.gatewayCidr() + (n.ipv6() == null ? "" : ", ipv6 " + n.ipv6() + " gateway " + n.gateway6Cidr())
                + (n.nat() ? ", NAT via " + String.join(", ", n.uplinkNames()) : "");
    }

    @Descriptor("List networks, and resources left by zones that no longer run (with --json the networks only: "
            + "net:orphans lists those)")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json) {
        if (json) {
            return NetworkJson.list(provider.networks().list());
        }
        StringBuilder sb = new StringBuilder(String.format("%-16s %-18s %-24s %-15s %-4s %s%n", "NAME", "SUBNET",
                "IPV6", "BRIDGE", "NAT", "LEASES"));
        for (NetworkRecord n : provider.networks().list()) {
            sb.append(String.format("%-16s %-18s %-24s %-15s %-4s %d%n", n.name(), n.subnet(),
                    n.ipv6() == null ? "-" : n.ipv6(), n.bridge(), n.nat() ? "yes" : "no", n.leases().size()));
        }
        for (String o : provider.networks().orphans(activeZones())) {
            sb.append("orphan: ").append(o).append('\n');
        }
        return sb.toString();
    }

    /** Zones that run, and any whose uuid a live process (a QEMU its record lost) carries: both hold resources. */
    private Set<UUID> activeZones() {
        Set<UUID> ids = zones.list().stream().filter(z -> z.state().isActive()).map(ZoneInfo::id)
                .collect(Collectors.toCollection(java.util.HashSet::new));
        ids.addAll(io.zonekeeper.hostio.GuestProcessScan.host().all().values());
        return ids;
    }

    @Descriptor("List leases and taps that no running zone explains (left by a crash); --release gives back those "
            + "of zones this appliance does not know and taps without a lease")
    public String orphans(
            @Descriptor("give them back: delete the taps and drop the leases") @Parameter(names = "--release", presentValue = "true", absentValue = "false") boolean release) {
        Set<UUID> active = activeZones();
        List<String> lines;
        if (release) {
            Set<UUID> known = zones.list().stream().map(ZoneInfo::id).collect(Collectors.toSet());
            lines = provider.networks().releaseOrphans(active, known);
        } else {
            lines = provider.networks().orphans(active).stream().map(o -> "orphan: " + o).toList();
        }
        return lines.isEmpty() ? "no orphans\n" : String.join("\n", lines) + "\n";
    }

    @Descriptor("Show a network, its leases and the zones that name it")
    public String info(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("network name") String name) throws NetworkException {
        NetworkRecord n = provider.networks().get(name).orElseThrow(() -> new NetworkException("no network named '"
                + name + "'; net:list shows the networks there are"));
        if (json) {
            return NetworkJson.info(n, usersOf(name));
        }
        StringBuilder sb = new StringBuilder();
        sb.append("name     ").append(n.name()).append('\n');
        sb.append("subnet   ").append(n.subnet()).append('\n');
        sb.append("gateway  ").append(Cidr.format(n.subnet().gateway())).append('\n');
        if (n.ipv6() != null) {
            sb.append("ipv6     ").append(n.ipv6()).append('\n');
            sb.append("gateway6 ").append(n.ipv6().gateway()).append('\n');
        }
        sb.append("bridge   ").append(n.bridge()).append('\n');
        sb.append("nat      ").append(n.nat() ? "yes" : "no").append('\n');
        if (n.nat()) {
            String how = n.uplink() != null ? "--uplink" : "the IPv4 default route's";
            if (n.uplinks().isEmpty()) {
                sb.append("uplink   none (").append(how).append(" was not found; see the log)\n");
            }
            for (Uplink u : n.uplinks()) {
                sb.append("uplink   ").append(u.name()).append(" (").append(how)
                        .append("; IPv4 forwarding switched on, was ").append(u.forwardingBefore()).append(")\n");
            }
        }
        sb.append("zones    ").append(String.join(", ", usersOf(name))).append('\n');
        for (Lease l : n.leases()) {
            sb.append(String.format("lease    %-15s %s%s %s %s%n", l.ip(), l.ip6() == null ? "" : l.ip6() + " ",
                    l.mac(), l.tap(), l.zone()));
        }
        return sb.toString();
    }

    @Descriptor("Destroy a network and its bridge; refused while a zone names it")
    public String destroy(@Descriptor("network name") String name) throws NetworkException {
        provider.networks().destroy(name, usersOf(name));
        return "network " + name + " destroyed";
    }

    private List<String> usersOf(String network) {
        return zones.list().stream().filter(z -> z.spec().networks().stream().anyMatch(a -> a.network()
                .equals(network))).map(ZoneInfo::name).sorted().toList();
    }
}
